"""Prometheus' HTTP query API (`/api/v1/query`, `/api/v1/query_range`) over requests.

`PromAPI.get(endpoint, promql, params)` returns the answer's `data.result` list. Every failure
(unreachable, timeout, HTTP error, a body that is not a Prometheus answer) becomes one
`PrometheusError` whose message says which: "unreachable", "did not answer", "failed ... HTTP
<code>", "answered garbage". Refused connections and gateway errors (502/503/504) get one quick
retry; a read timeout is not retried, so a caller never waits twice.
"""
import json
from typing import Any, Dict, List, Optional

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

ENDPOINTS = ("query", "query_range")
RETRY_STATUSES = (502, 503, 504)


class PrometheusError(Exception):
    """A Prometheus query could not be answered (the message says why)."""


def _retry() -> Retry:
    """One retry for a refused connection or a gateway error, none for a read timeout."""
    return Retry(total=1, connect=1, read=0, status=1, backoff_factor=0,
                 status_forcelist=RETRY_STATUSES, raise_on_status=False)


def short(text: Any, limit: int = 160) -> str:
    """One line, at most `limit` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 3] + "..."


class PromAPI(object):
    """A requests session bound to one Prometheus base URL."""

    def __init__(self, url: str, bearer_token: str = "", verify_tls: bool = True,
                 timeout_s: float = 10.0, session: Optional[requests.Session] = None) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError("prometheus url must start with http:// or https://, got %r"
                             % (url,))
        self.url = url.rstrip("/")
        self.timeout_s = float(timeout_s)
        if self.timeout_s <= 0:
            raise ValueError("prometheus timeout_s must be > 0, got %r" % (timeout_s,))
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(max_retries=_retry())
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        session.verify = bool(verify_tls)
        if bearer_token:
            session.headers["Authorization"] = "Bearer %s" % bearer_token
        self.session = session

    def close(self) -> None:
        """Release the HTTP session's connections."""
        self.session.close()

    def get(self, endpoint: str, promql: str, params: Dict[str, str]) -> List[Dict[str, Any]]:
        """GET /api/v1/<endpoint>?query=promql&params...; the `data.result` list of objects."""
        if endpoint not in ENDPOINTS:
            raise ValueError("unknown Prometheus endpoint %r (one of %s)" % (
                endpoint, ", ".join(ENDPOINTS)))
        query = dict(params, query=promql)
        try:
            response = self.session.get("%s/api/v1/%s" % (self.url, endpoint), params=query,
                                        timeout=self.timeout_s)
        except requests.exceptions.RequestException as exc:
            if _is_timeout(exc):
                raise PrometheusError("prometheus at %s did not answer %s within %gs: %s" % (
                    self.url, endpoint, self.timeout_s, short(promql))) from None
            raise PrometheusError("prometheus at %s unreachable (%s): %s" % (
                self.url, type(exc).__name__, short(exc, 200))) from None
        body = _json_or_none(response)
        if response.status_code >= 400:
            raise PrometheusError("prometheus at %s failed %s %s: HTTP %d%s" % (
                self.url, endpoint, short(promql), response.status_code,
                _error_detail(body, response.text)))
        return self._result(body, promql, response.text)

    def _result(self, body: Any, promql: str, text: str) -> List[Dict[str, Any]]:
        """`data.result` of a success answer, checked to be a list of objects."""
        if not isinstance(body, dict):
            raise PrometheusError("prometheus at %s answered garbage to %s (not JSON: %s)" % (
                self.url, short(promql), short(text, 120)))
        if body.get("status") != "success":
            raise PrometheusError("prometheus at %s failed %s: status %r%s" % (
                self.url, short(promql), body.get("status"), _error_detail(body, "")))
        data = body.get("data")
        result = data.get("result") if isinstance(data, dict) else None
        if not isinstance(result, list) or not all(isinstance(i, dict) for i in result):
            raise PrometheusError("prometheus at %s answered garbage to %s: %s" % (
                self.url, short(promql), short(repr(data), 200)))
        return result


def _json_or_none(response: requests.Response) -> Any:
    """The decoded JSON body, or None when the body is not JSON."""
    try:
        return json.loads(response.text)
    except ValueError:
        return None


def _error_detail(body: Any, text: str) -> str:
    """` <errorType>: <error>` from a Prometheus error body, else the start of the text."""
    if isinstance(body, dict) and (body.get("error") or body.get("errorType")):
        return " %s: %s" % (body.get("errorType") or "error", short(body.get("error"), 300))
    return " (%s)" % short(text, 120) if text.strip() else ""


def _is_timeout(exc: Exception) -> bool:
    """A read/connect timeout, also when urllib3's retry wrapped it in a ConnectionError."""
    if isinstance(exc, requests.exceptions.Timeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, ReadTimeoutError)

"""Prometheus access for detectors: instant and range queries at `clock.now()`.

Built on prometheus-api-client's `PrometheusConnect`. Every failure (unreachable, timeout,
HTTP error, a body that is not a Prometheus answer) becomes one `PrometheusError`; samples
whose value is NaN/Inf or whose timestamp is far from the evaluation time are dropped.
"""
import logging
import math
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from lib import clock

LOG = logging.getLogger(__name__)

# An instant answer whose timestamp is further than this from the requested time is stale.
MAX_SKEW_S = 60.0


class PrometheusError(Exception):
    """A Prometheus query could not be answered (the message says why)."""


class Sample(object):
    """One instant-vector element: labels, value and the sample time."""

    __slots__ = ("labels", "value", "ts")

    def __init__(self, labels: Dict[str, str], value: float, ts: float) -> None:
        self.labels = labels
        self.value = value
        self.ts = ts

    def __repr__(self) -> str:
        return "Sample(%r, %r, %r)" % (self.labels, self.value, self.ts)


class Series(object):
    """One range-vector element: labels and (time, value) points, oldest first."""

    __slots__ = ("labels", "points")

    def __init__(self, labels: Dict[str, str], points: List[Tuple[float, float]]) -> None:
        self.labels = labels
        self.points = points

    def __repr__(self) -> str:
        return "Series(%r, %d points)" % (self.labels, len(self.points))


def _prometheus_connect_class() -> Any:
    """PrometheusConnect (requirements.txt pins a release that imports on this Python)."""
    from prometheus_api_client.prometheus_connect import PrometheusConnect

    return PrometheusConnect


def _finite(value: Any) -> Optional[float]:
    """The float value of a Prometheus sample string, or None for NaN/Inf/garbage."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(number) or math.isinf(number):
        return None
    return number


def label_regex(values: Iterable[str]) -> str:
    """A PromQL regex matching exactly these label values (escaped, sorted, deduplicated)."""
    specials = set("\\.^$|?*+()[]{}")
    escaped = []
    for value in sorted(set(values)):
        escaped.append("".join(("\\\\" + c) if c in specials else c for c in value))
    return "|".join(escaped)


class Prom(object):
    """Query Prometheus at the pack's clock; raise PrometheusError on any failure."""

    def __init__(self, url: str, bearer_token: str = "", verify_tls: bool = True,
                 timeout_s: float = 10.0, connect: Any = None) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = float(timeout_s)
        headers = {"Authorization": "Bearer %s" % bearer_token} if bearer_token else None
        if connect is None:
            from urllib3.util.retry import Retry

            # One quick retry for refused connections and gateway errors; a read timeout is
            # not retried (the sensor polls again soon) so a poll never waits twice.
            retry = Retry(total=1, connect=1, read=0, status=1, backoff_factor=0,
                          status_forcelist=(502, 503, 504), raise_on_status=False)
            connect = _prometheus_connect_class()(
                url=self.url, headers=headers, disable_ssl=not verify_tls, retry=retry,
                timeout=self.timeout_s)
        self._connect = connect

    @classmethod
    def from_settings(cls, prometheus_settings: Mapping[str, Any]) -> "Prom":
        """Build from the pack's `prometheus` settings."""
        return cls(url=prometheus_settings["url"],
                   bearer_token=prometheus_settings.get("bearer_token") or "",
                   verify_tls=bool(prometheus_settings.get("verify_tls", True)),
                   timeout_s=float(prometheus_settings.get("timeout_s") or 10))

    def close(self) -> None:
        """Release the HTTP session."""
        closer = getattr(self._connect, "close", None)
        if closer is not None:
            closer()
        else:  # prometheus-api-client 0.5.x (the Python 3.8 pin) has no close()
            session = getattr(self._connect, "_session", None)
            if session is not None:
                session.close()

    def query(self, promql: str) -> List[Sample]:
        """Instant query at `clock.now()`; finite, fresh samples only."""
        now = clock.now()
        params = {"time": "%.3f" % now, "timeout": "%gs" % self.timeout_s}
        result = self._call("query", promql, lambda: self._connect.custom_query(
            promql, params=params))
        samples = []
        for item in self._elements(result, promql):
            pair = item.get("value")
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise PrometheusError("prometheus answered garbage for %s: %r" % (
                    _short(promql), item))
            ts = _finite(pair[0])
            value = _finite(pair[1])
            if ts is None:
                raise PrometheusError("prometheus answered a bad timestamp for %s: %r" % (
                    _short(promql), pair[0]))
            if value is None:
                continue
            if abs(ts - now) > MAX_SKEW_S:
                LOG.warning("dropping stale sample of %s at %s (asked for %s)",
                            _short(promql), ts, now)
                continue
            samples.append(Sample(dict(item.get("metric") or {}), value, ts))
        return samples

    def query_range(self, promql: str, lookback_s: float, step_s: float) -> List[Series]:
        """Range query over [now - lookback_s, now]; NaN/Inf points dropped."""
        import datetime

        end = clock.now()
        start = end - max(lookback_s, step_s)
        tz = datetime.timezone.utc
        params = {"timeout": "%gs" % self.timeout_s}
        result = self._call("query_range", promql, lambda: self._connect.custom_query_range(
            promql, start_time=datetime.datetime.fromtimestamp(start, tz),
            end_time=datetime.datetime.fromtimestamp(end, tz), step="%gs" % step_s,
            params=params))
        series = []
        for item in self._elements(result, promql):
            values = item.get("values")
            if not isinstance(values, list):
                raise PrometheusError("prometheus answered garbage for %s: %r" % (
                    _short(promql), item))
            points = []
            for pair in values:
                if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                    raise PrometheusError("prometheus answered garbage for %s" % _short(promql))
                ts, value = _finite(pair[0]), _finite(pair[1])
                if ts is not None and value is not None and ts <= end + MAX_SKEW_S:
                    points.append((ts, value))
            if points:
                series.append(Series(dict(item.get("metric") or {}), points))
        return series

    def _call(self, kind: str, promql: str, fn: Any) -> Any:
        """Run one HTTP query and translate every failure into PrometheusError."""
        import requests

        from prometheus_api_client.exceptions import PrometheusApiClientException

        try:
            return fn()
        except requests.exceptions.RequestException as exc:
            if _is_timeout(exc):
                raise PrometheusError("prometheus at %s did not answer %s within %gs: %s" % (
                    self.url, kind, self.timeout_s, _short(promql))) from None
            if isinstance(exc, ValueError) and "JSON" in type(exc).__name__:
                raise PrometheusError("prometheus at %s answered garbage to %s (%s)" % (
                    self.url, _short(promql), _short(str(exc), 200))) from None
            raise PrometheusError("prometheus at %s unreachable (%s): %s" % (
                self.url, type(exc).__name__, _short(str(exc), 200))) from None
        except PrometheusApiClientException as exc:
            raise PrometheusError("prometheus at %s failed %s %s: %s" % (
                self.url, kind, _short(promql), _short(str(exc), 300))) from None
        except (ValueError, KeyError, TypeError) as exc:  # body is not JSON / not an answer
            raise PrometheusError("prometheus at %s answered garbage to %s (%s: %s)" % (
                self.url, _short(promql), type(exc).__name__, _short(str(exc), 200))) from None

    @staticmethod
    def _elements(result: Any, promql: str) -> List[Dict[str, Any]]:
        """The result list, checked to be a list of objects."""
        if not isinstance(result, list) or not all(isinstance(i, dict) for i in result):
            raise PrometheusError("prometheus answered garbage for %s: %s" % (
                _short(promql), _short(repr(result), 200)))
        return result


def _is_timeout(exc: Exception) -> bool:
    """A read/connect timeout, also when urllib3's retry wrapped it in a ConnectionError."""
    import requests
    from urllib3.exceptions import ReadTimeoutError

    if isinstance(exc, requests.exceptions.Timeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, ReadTimeoutError)


def _short(text: str, limit: int = 160) -> str:
    """One line, at most `limit` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 3] + "..."


def by_labels(samples: Iterable[Sample], *names: str) -> Dict[Tuple[str, ...], Sample]:
    """Index samples by a tuple of label values."""
    return {tuple(s.labels.get(n, "") for n in names): s for s in samples}

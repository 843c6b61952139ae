"""HTTP proxy in front of the twin's Prometheus that injects faults on demand.

Faults (`ProxyFaults.inject(kind, **params)`; several may be active at once):
- `down`: `how="refuse"` (default; the listening socket is closed, connections are refused)
  or `how="503"` (answers 503 Service Unavailable).
- `slow`: `delay_s` real seconds before forwarding.
- `error`: answers `status` (default 500) with a Prometheus-style JSON error.
- `garbage`: answers 200 with a body that is not JSON.
- `stale`: answers as of `seconds` earlier (the query's `time`/`start`/`end` are shifted back;
  result timestamps are shifted forward again, as a lagging pipeline would look).
- `nan`: every sample value in the answer becomes "NaN".
Every fault takes optional `match` (regex searched in the PromQL query) and `rate` (fraction of
matching requests affected, from a seeded RNG).
"""
from __future__ import annotations

import http.client
import http.server
import json
import random
import re
import socketserver
import threading
import time
import urllib.parse
from typing import Any, Dict, List, Optional, Tuple

FAULT_KINDS = ("down", "slow", "error", "garbage", "stale", "nan")


class ProxyFaults:
    """Thread-safe set of active faults."""

    def __init__(self, seed: int = 0, on_change=None) -> None:
        self._lock = threading.Lock()
        self._active: Dict[str, Dict[str, Any]] = {}
        self._rng = random.Random(seed)
        self._on_change = on_change

    def inject(self, kind: str, **params: Any) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown Prometheus fault {kind!r}; known: {FAULT_KINDS}")
        with self._lock:
            self._active[kind] = dict(params)
        if self._on_change:
            self._on_change()

    def clear(self, kind: Optional[str] = None) -> None:
        with self._lock:
            if kind is None:
                self._active.clear()
            else:
                self._active.pop(kind, None)
        if self._on_change:
            self._on_change()

    def active(self) -> Dict[str, Dict[str, Any]]:
        with self._lock:
            return {kind: dict(params) for kind, params in self._active.items()}

    def applicable(self, query: str) -> Dict[str, Dict[str, Any]]:
        """The faults that apply to one request carrying `query`."""
        chosen = {}
        with self._lock:
            for kind, params in self._active.items():
                pattern = params.get("match")
                if pattern and not re.search(pattern, query or ""):
                    continue
                rate = float(params.get("rate", 1.0))
                if rate < 1.0 and self._rng.random() >= rate:
                    continue
                chosen[kind] = params
        return chosen


def _shift_params(params: List[Tuple[str, str]], seconds: float) -> List[Tuple[str, str]]:
    shifted = []
    for name, value in params:
        if name in ("time", "start", "end"):
            try:
                value = repr(float(value) - seconds)
            except ValueError:
                pass
        shifted.append((name, value))
    return shifted


def _rewrite_values(payload: Dict[str, Any], shift_s: float, make_nan: bool) -> None:
    data = payload.get("data")
    if not isinstance(data, dict):
        return
    result = data.get("result")

    def fix(point: list) -> list:
        ts, value = point[0], point[1]
        return [ts + shift_s, "NaN" if make_nan else value]

    if data.get("resultType") in ("scalar", "string") and isinstance(result, list):
        data["result"] = fix(result)
        return
    for item in result or []:
        if "value" in item:
            item["value"] = fix(item["value"])
        if "values" in item:
            item["values"] = [fix(point) for point in item["values"]]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_ProxyHTTPServer"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        self._handle("POST")

    def _handle(self, method: str) -> None:
        proxy = self.server.proxy
        parsed = urllib.parse.urlsplit(self.path)
        params = urllib.parse.parse_qsl(parsed.query, keep_blank_values=True)
        body = b""
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            body = self.rfile.read(length)
        form = self.headers.get("Content-Type", "").startswith(
            "application/x-www-form-urlencoded")
        body_params = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True) if form \
            else []
        query = dict(params + body_params).get("query", "")
        proxy.record(parsed.path, query)
        faults = proxy.faults.applicable(query) if parsed.path.startswith("/api/") else {}
        if "slow" in faults:
            time.sleep(float(faults["slow"].get("delay_s", 5.0)))
        if "down" in faults:
            self._reply(503, b"Service Unavailable", "text/plain")
            return
        if "error" in faults:
            status = int(faults["error"].get("status", 500))
            message = {"status": "error", "errorType": "internal",
                       "error": faults["error"].get("message", "injected failure")}
            self._reply(status, json.dumps(message).encode(), "application/json")
            return
        if "garbage" in faults:
            self._reply(200, b"<html><body>\x00\xff garbage {\"status\": \"succ",
                        "application/json")
            return
        shift = float(faults["stale"].get("seconds", 600)) if "stale" in faults else 0.0
        if shift:
            params = _shift_params(params, shift)
            body_params = _shift_params(body_params, shift)
            body = urllib.parse.urlencode(body_params).encode() if form else body
        target = parsed.path + ("?" + urllib.parse.urlencode(params) if params else "")
        try:
            status, headers, answer = proxy.forward(method, target, body, self.headers)
        except (OSError, http.client.HTTPException) as exc:
            self._reply(502, f"upstream error: {exc}".encode(), "text/plain")
            return
        content_type = headers.get("Content-Type", "application/json")
        if (shift or "nan" in faults) and content_type.startswith("application/json"):
            try:
                payload = json.loads(answer)
                _rewrite_values(payload, shift, "nan" in faults)
                answer = json.dumps(payload).encode()
            except ValueError:
                pass
        self._reply(status, answer, content_type)

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout is shorter than an injected delay)


class _ProxyHTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: "PromProxy"


class PromProxy:
    """The proxy; `url` is what the pack is given as Prometheus URL."""

    def __init__(self, upstream_url: str, port: int = 0, seed: int = 0) -> None:
        parsed = urllib.parse.urlparse(upstream_url)
        self._upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.port = port
        self.faults = ProxyFaults(seed, on_change=self._sync_listener)
        self._server: Optional[_ProxyHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        self._local = threading.local()
        self.requests: List[Tuple[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def record(self, path: str, query: str) -> None:
        with self._lock:
            self.requests.append((path, query))
            if len(self.requests) > 10000:
                del self.requests[:5000]

    def forward(self, method: str, target: str, body: bytes,
                headers) -> Tuple[int, Dict[str, str], bytes]:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(*self._upstream, timeout=60)
            self._local.conn = conn
        send_headers = {"Content-Type": headers.get("Content-Type", ""),
                        "Accept": headers.get("Accept", "*/*")}
        send_headers = {k: v for k, v in send_headers.items() if v}
        try:
            conn.request(method, target, body=body or None, headers=send_headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            self._local.conn = None
            raise
        return response.status, dict(response.getheaders()), data

    def start(self) -> "PromProxy":
        with self._lock:
            self._start_locked()
        return self

    def _start_locked(self) -> None:
        if self._server is not None:
            return
        server = _ProxyHTTPServer(("127.0.0.1", self.port), _Handler)
        server.proxy = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="promproxy",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def _stop_locked(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None
        self._thread = None

    def _sync_listener(self) -> None:
        down = self.faults.active().get("down")
        refusing = down is not None and down.get("how", "refuse") == "refuse"
        with self._lock:
            if refusing:
                self._stop_locked()
            else:
                self._start_locked()

    def stop(self) -> None:
        with self._lock:
            self._stop_locked()

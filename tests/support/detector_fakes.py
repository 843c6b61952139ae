"""Test doubles for detector and sensor tests: a real Prometheus fed by remote write, a
fake Prometheus HTTP server that misbehaves on demand, and a fake Kubernetes client."""
import http.server
import json
import shutil
import threading
import time
import types
import urllib.parse
from typing import Any, Callable, Dict, List, Optional

from lib import clock
from lib.config import load_settings
from lib.kube import KubeError

STEP_S = 15


def settings(**detectors: Dict[str, Any]) -> Any:
    """Pack settings with defaults, detector overrides given as keyword arguments."""
    return load_settings({"detectors": detectors, "prometheus": {"url": "http://127.0.0.1:9",
                                                                  "timeout_s": 2}},
                         environ={})


def have_prometheus() -> bool:
    return shutil.which("prometheus") is not None


class PromData(object):
    """Series to remote-write into a real Prometheus, written in time order.

    `add(name, labels, fn, start, end)` samples `fn(t)` (None = no sample) every 15 s from
    `start` to `end` (epoch seconds).
    """

    def __init__(self, writer: Any, now: float) -> None:
        self.writer = writer
        self.now = now
        self.samples: Dict[float, List[Any]] = {}

    def add(self, name: str, labels: Dict[str, str], fn: Callable[[float], Optional[float]],
            start: float, end: Optional[float] = None) -> None:
        from twin.promwrite import series_key

        key = series_key(name, labels)
        end = self.now if end is None else end
        t = start
        while t <= end + 1e-6:
            value = fn(t)
            if value is not None:
                self.samples.setdefault(t, []).append((key, float(value)))
            t += STEP_S

    def flush(self) -> None:
        for t in sorted(self.samples):
            self.writer.write_step(t, self.samples[t])
        self.samples = {}


class FakePrometheus(object):
    """A loopback HTTP server speaking just enough of the Prometheus query API.

    `mode`: "ok" (answers from `handler(query, params) -> result list`), "500", "503",
    "garbage" (200 with a non-JSON body), "badshape" (200 with JSON that is not an answer),
    "slow" (sleeps `delay_s` before answering), "down" (server stopped).
    """

    def __init__(self) -> None:
        self.mode = "ok"
        self.delay_s = 3.0
        self.handler: Callable[[str, Dict[str, str]], List[Dict[str, Any]]] = lambda q, p: []
        self.requests: List[Dict[str, str]] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                parsed = urllib.parse.urlparse(self.path)
                params = {k: v[0] for k, v in urllib.parse.parse_qs(parsed.query).items()}
                params["path"] = parsed.path
                params["authorization"] = self.headers.get("Authorization", "")
                fake.requests.append(params)
                mode = fake.mode
                if mode == "slow":
                    time.sleep(fake.delay_s)
                if mode in ("500", "503"):
                    return self._send(int(mode), b'{"status":"error","error":"boom"}')
                if mode == "garbage":
                    return self._send(200, b"<html>proxy error</html>")
                if mode == "badshape":
                    return self._send(200, b'{"status":"success","data":{"result":{"a":1}}}')
                result = fake.handler(params.get("query", ""), params)
                kind = "matrix" if parsed.path.endswith("query_range") else "vector"
                body = {"status": "success", "data": {"resultType": kind, "result": result}}
                return self._send(200, json.dumps(body).encode())

            def _send(self, status: int, body: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def vector(labels: Dict[str, str], value: Any, ts: Optional[float] = None) -> Dict[str, Any]:
    """One instant-vector element as Prometheus encodes it."""
    return {"metric": labels, "value": [clock.now() if ts is None else ts, str(value)]}


def matrix(labels: Dict[str, str], points: List[Any]) -> Dict[str, Any]:
    return {"metric": labels, "values": [[t, str(v)] for t, v in points]}


class FakeKube(object):
    """Kube-like object: `core.read_node`, `core.read_namespaced_pod` and `call()`."""

    def __init__(self) -> None:
        self.down = False
        self.status = 503
        self.nodes: Dict[str, Any] = {}
        self.pods: Dict[Any, Any] = {}
        self.calls: List[Any] = []
        self.core = types.SimpleNamespace(read_node=self._read_node,
                                          read_namespaced_pod=self._read_pod)

    def call(self, fn: Callable[..., Any], *args: Any, retry: bool = True, **kw: Any) -> Any:
        self.calls.append((fn.__name__, args))
        if self.down:
            raise KubeError(self.status, "Service Unavailable", "apiserver down")
        return fn(*args)

    def _read_node(self, name: str) -> Any:
        if name not in self.nodes:
            raise KubeError(404, "Not Found", name)
        return self.nodes[name]

    def _read_pod(self, name: str, namespace: str) -> Any:
        if (namespace, name) not in self.pods:
            raise KubeError(404, "Not Found", name)
        return self.pods[(namespace, name)]

    def add_node(self, name: str, ready: str, since_iso: str) -> None:
        cond = types.SimpleNamespace(type="Ready", status=ready, last_transition_time=since_iso)
        self.nodes[name] = types.SimpleNamespace(status=types.SimpleNamespace(conditions=[cond]))

    def add_pod(self, namespace: str, name: str, node: str, container: str, reason: str,
                exit_code: int) -> None:
        terminated = types.SimpleNamespace(reason=reason, exit_code=exit_code)
        status = types.SimpleNamespace(
            name=container, last_state=types.SimpleNamespace(terminated=terminated))
        self.pods[(namespace, name)] = types.SimpleNamespace(
            spec=types.SimpleNamespace(node_name=node),
            status=types.SimpleNamespace(container_statuses=[status]))


class DictDatastore(object):
    """The datastore calls a sensor_service makes, kept in a dict (no TTL expiry)."""

    def __init__(self):
        self.items = {}

    def get_value(self, name, local=True):
        return self.items.get(name)

    def set_value(self, name, value, ttl=None, local=True):
        self.items[name] = value

    def delete_value(self, name, local=True):
        return self.items.pop(name, None) is not None

    def list_values(self, local=True, prefix=None):
        return [{"name": k, "value": v} for k, v in self.items.items()
                if k.startswith(prefix or "")]

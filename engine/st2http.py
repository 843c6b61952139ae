"""StackStorm's API over HTTP, for pack actions that use the genuine st2client.

Where the real st2client is installed (the genuine StackStorm track), an action's
`Client(api_url=ST2_ACTION_API_URL)` really speaks HTTP. This serves the few endpoints the pack
calls, with the paths and bodies st2client 3.8.1 uses, answered by `engine.st2api`'s managers:

    GET  /api/v1/inquiries             GET /api/v1/inquiries/<id>    PUT /api/v1/inquiries/<id>
    GET  /api/v1/executions/<id>       POST /api/v1/executions
    GET  /api/v1/keys/<name>?scope=    POST /api/v1/webhooks/st2

The server runs in a real OS thread (also in an eventlet-patched process) so that it answers
while the engine waits for the action.
"""
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ThreadingMixIn
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

Route = Tuple[str, "re.Pattern[str]", str, str]
ROUTES: List[Route] = [
    ("GET", re.compile(r"^/api/v1/inquiries/?$"), "inquiries", "get_all"),
    ("GET", re.compile(r"^/api/v1/inquiries/([^/]+)/?$"), "inquiries", "get_by_id"),
    ("PUT", re.compile(r"^/api/v1/inquiries/([^/]+)/?$"), "inquiries", "respond"),
    ("GET", re.compile(r"^/api/v1/executions/([^/]+)/?$"), "executions", "get_by_id"),
    ("POST", re.compile(r"^/api/v1/executions/?$"), "executions", "create"),
    ("GET", re.compile(r"^/api/v1/keys/([^/]+)/?$"), "keys", "get_by_name"),
    ("POST", re.compile(r"^/api/v1/webhooks/st2/?$"), "webhooks", "post_generic_webhook"),
]

Call = Callable[[str, str, List[Any], Dict[str, Any]], Any]


def route(method: str, path: str, body: Any, query: Dict[str, List[str]]
          ) -> Optional[Tuple[str, str, List[Any], Dict[str, Any]]]:
    """(manager, method, args, kwargs) of a request, or None when the API has no such call."""
    for verb, pattern, manager, call in ROUTES:
        match = pattern.match(path)
        if verb != method or not match:
            continue
        args: List[Any] = list(match.groups())
        kwargs: Dict[str, Any] = {}
        if call == "respond":
            args.append((body or {}).get("response") or {})
        elif call == "create":
            args = [{"__resource__": dict(body or {})}]
        elif call == "get_by_name":
            kwargs["scope"] = (query.get("scope") or ["system"])[0]
        elif call == "post_generic_webhook":
            body = body or {}
            args = [body.get("trigger"), body.get("payload") or {}]
        return manager, call, args, kwargs
    return None


def _plain(value: Any) -> Any:
    """The JSON StackStorm's API answers with (resources as plain objects)."""
    if isinstance(value, dict) and set(value) == {"__resource__"}:
        return value["__resource__"]
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _handler(serve: Call, token: str) -> type:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            if self.headers.get("X-Auth-Token") != token:
                self._answer(401, {"faultstring": "Unauthorized - invalid or missing token"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw.decode() or "null")
            except ValueError:
                self._answer(400, {"faultstring": "the request body is not JSON"})
                return
            parts = urlsplit(self.path)
            call = route(self.command, parts.path, body, parse_qs(parts.query))
            if call is None:
                self._answer(404, {"faultstring": "no such endpoint: %s %s" % (
                    self.command, parts.path)})
                return
            try:
                result = serve(*call)
            except Exception as error:  # an ApiError carries its status
                self._answer(int(getattr(error, "status_code", 500)), {"faultstring": str(error)})
                return
            if result is None:
                self._answer(404, {"faultstring": "not found"})
            else:
                self._answer(201 if call[1] == "create" else 200, _plain(result))

        do_GET = do_PUT = do_POST = _handle  # noqa: N815

    return Handler


class _Server(ThreadingMixIn, HTTPServer):
    daemon_threads = True

    def process_request(self, request: Any, client_address: Any) -> None:
        """Each request in its own OS thread (an action it runs may call the API again)."""
        _os_thread(lambda: self.process_request_thread(request, client_address)).start()


def _os_thread(target: Callable[[], None]) -> threading.Thread:
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None and patcher.is_monkey_patched("thread"):
        return patcher.original("threading").Thread(target=target, daemon=True,
                                                    name="st2-api")
    return threading.Thread(target=target, daemon=True, name="st2-api")


def start(serve: Call, token: str) -> str:
    """Serve the API on a free loopback port; returns its base URL (`.../api/v1`)."""
    server = _Server(("127.0.0.1", 0), _handler(serve, token))
    _os_thread(server.serve_forever).start()
    return "http://127.0.0.1:%d/api/v1" % server.server_address[1]

"""The HTTP request handler: plumbing (send, errors, body), dispatch with authentication,
authorization and faults, discovery documents, and request parsing.
"""
import json
from http.server import BaseHTTPRequestHandler
from typing import Any, Dict, List, Optional, Protocol, Tuple
from urllib.parse import parse_qs, urlsplit

from twin import openapi, resources
from twin.apiserver.request import Request, _flag, _single_name, _status, parse_path
from twin.apiserver.subresources import Subresources
from twin.apiserver.verbs import ResourceVerbs
from twin.apiserver.watch import WatchVerb
from twin.faults import ApiFaults, Fault
from twin.rbac import Authorizer
from twin.store import ApiError, BadRequest, Forbidden, NotFound, Store


VERSION = {"major": "1", "minor": "31", "gitVersion": "v1.31.0-twin", "gitCommit": "twin",
           "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.22",
           "compiler": "gc", "platform": "linux/amd64"}
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


# Subresources whose kind lives in another group (kubectl drain looks for policy/v1 Eviction).
_JSON_TYPES = ("application/json", "application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "", "*/*",
               "application/x-www-form-urlencoded")
_SUB_GROUP_VERSIONS = {"scale": ("autoscaling", "v1"), "eviction": ("policy", "v1")}


class Served(Protocol):
    """What a handler reads from the server it is bound to (`ApiServer` is one)."""
    store: Store
    authorizer: Optional[Authorizer]
    faults: ApiFaults
    port: int
    request_count: int
    bookmark_interval_s: float

    @property
    def stopping(self) -> bool: ...


class _Handler(ResourceVerbs, WatchVerb, Subresources, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out separately: avoid 40 ms stalls
    api: Served

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    # ----------------------------------------------------------------- plumbing
    def _send(self, code: int, body: Any, content_type: str = "application/json") -> None:
        if isinstance(body, (dict, list)):
            data = json.dumps(body, separators=(",", ":")).encode()
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body
        self.send_response(code)
        for text in getattr(self, "_warnings", ()):
            self.send_header("Warning", '299 - "%s"' % text.replace('"', '\\"'))
        self._warnings = []
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.write(data)

    def _error(self, exc: ApiError) -> None:
        # encoded like the API server's Go encoder: compact, a trailing newline
        self._send(exc.code, json.dumps(exc.status(), separators=(",", ":")).encode() + b"\n")

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        ctype = (self.headers.get("Content-Type") or "application/json").split(";")[0]
        ctype = ctype.strip().lower()
        if ctype in ("application/yaml", "application/apply-patch+yaml"):
            import yaml
            try:
                return yaml.safe_load(raw)
            except yaml.YAMLError as exc:
                raise BadRequest("the request body is not valid YAML: %s" % exc) from None
        if ctype not in _JSON_TYPES:
            # protobuf (and CBOR) bodies are refused like a server that does not serve them;
            # client-go then retries in JSON
            raise ApiError("the body of the request was in an unknown format - accepted media "
                           "types include: application/json, application/yaml",
                           code=415, reason="UnsupportedMediaType")
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise BadRequest("couldn't get version/kind; json parse error: %s" % exc) from None

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    # ----------------------------------------------------------------- dispatch
    def _dispatch(self, method: str) -> None:
        self.api.request_count += 1
        self._warnings: List[str] = []
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        try:
            body = self._body() if method in ("POST", "PUT", "PATCH", "DELETE") else None
            user = self._authenticate()
            if user is None:
                self._send(401, _status(401, "Unauthorized", "Unauthorized"))
                return
            if self._discovery(method, url.path):
                return
            req = self._parse(method, url.path, query)
            self._authorize(user, req)
            if req.rt is not None and req.rt.plural in resources.REVIEWS:
                return self._review(user, req, body)
            fault = self.api.faults.check(req.verb, req.rt.plural if req.rt else "",
                                          req.subresource, req.namespace, req.name)
            if fault is not None and self._apply_fault(fault):
                return
            self._route(method, req, body, fault)
        except ApiError as exc:
            self._error(exc)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - a server must answer with a Status
            self._send(500, _status(500, "InternalError",
                                    "Internal error occurred: %s: %s"
                                    % (type(exc).__name__, exc)))

    def _authenticate(self) -> Optional[Tuple[str, bool]]:
        authz = self.api.authorizer
        if authz is None:
            return ("system:admin", True)
        return authz.authenticate(self.headers.get("Authorization"))

    def _authorize(self, user: Tuple[str, bool], req: Request) -> None:
        authz = self.api.authorizer
        if authz is None or req.rt is None:
            return
        if req.rt.plural in ("selfsubjectaccessreviews", "selfsubjectrulesreviews") and \
                req.verb == "create":
            return  # system:basic-user: everyone may ask about themselves
        ok, message = authz.authorize(user[0], user[1], req.verb, req.rt.group, req.rt.plural,
                                      req.subresource, req.namespace,
                                      req.name or _single_name(req))
        if not ok:
            raise Forbidden(message, {"name": req.name, "kind": req.rt.plural,
                                      "group": req.rt.group} if req.name else
                            {"kind": req.rt.plural, "group": req.rt.group})

    def _apply_fault(self, fault: Fault) -> bool:
        """Apply a fault; True if the request was answered (or dropped) by it."""
        faults = self.api.faults
        if fault.effect == "delay":
            faults.sleep(fault.delay_s)
            return False
        if fault.effect == "timeout":
            faults.sleep(fault.hold_s)
            self._send(504, _status(504, "Timeout", "Timeout: request did not complete within "
                                    "the allowed duration"))
            return True
        if fault.effect == "status":
            if fault.delay_s:
                faults.sleep(fault.delay_s)
            self._send(fault.status, _status(fault.status, fault.reason, fault.text()))
            return True
        return False  # drop_watch: handled while streaming

    # ----------------------------------------------------------------- discovery
    def _discovery(self, method: str, path: str) -> bool:
        if method != "GET":
            return False
        path = path.rstrip("/") or "/"
        if path in ("/healthz", "/readyz", "/livez"):
            self._send(200, "ok", "text/plain")
            return True
        if path == "/version":
            self._send(200, VERSION)
            return True
        if path == "/openapi/v3":
            self._send(200, openapi.root())
            return True
        if path.startswith("/openapi/v3/"):
            rest = path[len("/openapi/v3/"):].split("/")
            doc = None
            if len(rest) == 2 and rest[0] == "api":
                doc = openapi.group_version("", rest[1])
            elif len(rest) == 3 and rest[0] == "apis":
                doc = openapi.group_version(rest[1], rest[2])
            if doc is None:
                raise NotFound("the server could not find the requested resource")
            self._send(200, doc.encode())
            return True
        if path == "/api":
            self._send(200, {"kind": "APIVersions", "versions": ["v1"],
                             "serverAddressByClientCIDRs": [
                                 {"clientCIDR": "0.0.0.0/0",
                                  "serverAddress": "127.0.0.1:%d" % self.api.port}]})
            return True
        groups = resources.group_versions()
        if path == "/apis":
            items = []
            for group, versions in sorted(groups.items()):
                if not group:
                    continue
                vs = [{"groupVersion": "%s/%s" % (group, v), "version": v} for v in versions]
                items.append({"name": group, "versions": vs, "preferredVersion": vs[0]})
            self._send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": items})
            return True
        parts = [p for p in path.split("/") if p]
        gv = None
        if len(parts) == 2 and parts[0] == "api":
            gv = ("", parts[1])
        elif len(parts) == 3 and parts[0] == "apis":
            gv = (parts[1], parts[2])
        elif len(parts) == 2 and parts[0] == "apis" and parts[1] in groups:
            vs = [{"groupVersion": "%s/%s" % (parts[1], v), "version": v}
                  for v in groups[parts[1]]]
            self._send(200, {"kind": "APIGroup", "apiVersion": "v1", "name": parts[1],
                             "versions": vs, "preferredVersion": vs[0]})
            return True
        if gv is None:
            return False
        rts = [rt for rt in resources.RESOURCES.values()
               if (rt.group, rt.version) == gv]
        if not rts:
            raise NotFound("the server could not find the requested resource")
        listing = []
        for rt in rts:
            item = {"name": rt.plural, "singularName": rt.singular,
                    "namespaced": rt.namespaced, "kind": rt.kind,
                    "verbs": list(rt.verbs) if rt.verbs else VERBS,
                    "shortNames": list(rt.short_names)}
            if rt.categories:
                item["categories"] = list(rt.categories)
            listing.append(item)
            for sub in rt.subresources:
                kind = {"scale": "Scale", "eviction": "Eviction", "binding": "Binding",
                        "log": "Pod"}.get(sub, rt.kind)
                verbs = {"scale": ["get", "patch", "update"], "eviction": ["create"],
                         "binding": ["create"], "log": ["get"]}.get(
                             sub, ["get", "patch", "update"])
                entry = {"name": "%s/%s" % (rt.plural, sub), "singularName": "",
                         "namespaced": rt.namespaced, "kind": kind, "verbs": verbs}
                if sub in _SUB_GROUP_VERSIONS:
                    group, version = _SUB_GROUP_VERSIONS[sub]
                    entry.update({"group": group, "version": version})
                listing.append(entry)
        gvs = "%s/%s" % gv if gv[0] else gv[1]
        self._send(200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gvs,
                         "resources": listing})
        return True

    # ----------------------------------------------------------------- parse
    def _parse(self, method: str, path: str, query: Dict[str, str]) -> Request:
        parsed = parse_path(path)
        if parsed is None:
            raise NotFound("the server could not find the requested resource")
        group, version, rest, legacy_watch = parsed
        req = Request()
        req.group, req.version, req.query = group, version, query
        if len(rest) >= 2 and rest[0] == "namespaces" and not (
                len(rest) == 3 and group == "" and rest[2] in ("status", "finalize")):
            if len(rest) == 2:
                rest = ["namespaces", rest[1]]
            else:
                req.namespace = rest[1]
                rest = rest[2:]
        if not rest or len(rest) > 3:
            raise NotFound("the server could not find the requested resource")
        rt = resources.by_path(group, version, rest[0])
        if rt is None:
            raise NotFound("the server could not find the requested resource")
        req.rt = rt
        if len(rest) >= 2:
            req.name = rest[1]
        if len(rest) == 3:
            req.subresource = rest[2]
            if req.subresource not in rt.subresources:
                raise NotFound("the server could not find the requested resource")
        if rt.namespaced is False:
            req.namespace = ""
        req.watch = legacy_watch or _flag(query.get("watch"))
        if method == "GET":
            req.verb = "watch" if req.watch else ("get" if req.name else "list")
        elif method == "POST":
            req.verb = "create"
        elif method == "PUT":
            req.verb = "update"
        elif method == "PATCH":
            req.verb = "patch"
        else:
            req.verb = "delete" if req.name else "deletecollection"
        if req.name and not req.subresource and req.verb == "watch":
            req.query["fieldSelector"] = "metadata.name=%s" % req.name
            req.name = ""
        return req

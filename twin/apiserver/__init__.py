"""The twin's Kubernetes REST API over HTTP on loopback (what the official client talks to).

    server = ApiServer(store, authorizer=authz, faults=ApiFaults()).start()
    server.url            # http://127.0.0.1:PORT ; kubeconfig.write_kubeconfig(path, url, token)
    server.stop()
    ApiServer(..., tls=True)   # https with a fresh self-signed CA (server.ca_pem); kubectl only
                               # sends bearer tokens over TLS: write_kubeconfig(..., ca_pem=...)
    ServedApi.start(store, workdir, deploy_dir="deploy")   # server + tokens + both kubeconfigs

Paths: /api/v1/..., /apis/<group>/<version>/..., [namespaces/<ns>/]<plural>[/<name>[/<sub>]],
legacy /api/v1/watch/...; discovery /api, /apis, /api/v1, /apis/<g>/<v>, /version, /healthz.
Verbs: get, list (labelSelector, fieldSelector, limit/continue), watch (watch=true: JSON lines
ADDED/MODIFIED/DELETED/ERROR, timeoutSeconds, resourceVersion), create (201), update (PUT),
patch (json-patch, merge-patch, strategic-merge-patch; the latter refused on custom resources
with 415 like a CRD), delete (DeleteOptions: propagationPolicy, preconditions, dryRun),
deletecollection. Subresources: status, scale (autoscaling/v1 Scale), pods/log, pods/eviction,
pods/binding. Errors are Status objects. `Accept: ...;as=Table` (kubectl get) gets a
meta.k8s.io Table (twin.tables). Every request is authorized (twin.rbac) and then checked
against the fault rules (twin.faults) before it is served.
"""
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

from twin import admission, openapi, resources, tables
from twin.faults import ApiFaults, Fault
from twin.rbac import Authorizer
from twin.store import ApiError, BadRequest, Forbidden, Gone, NotFound, Store

VERSION = {"major": "1", "minor": "31", "gitVersion": "v1.31.0-twin", "gitCommit": "twin",
           "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.22",
           "compiler": "gc", "platform": "linux/amd64"}
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
DEFAULT_WATCH_TIMEOUT_S = 1800
# Subresources whose kind lives in another group (kubectl drain looks for policy/v1 Eviction).
_JSON_TYPES = ("application/json", "application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "", "*/*",
               "application/x-www-form-urlencoded")
_SUB_GROUP_VERSIONS = {"scale": ("autoscaling", "v1"), "eviction": ("policy", "v1")}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # many pack workers and watches connect at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys
        if isinstance(sys.exc_info()[1], (ConnectionError, OSError)):
            return  # a client hung up (kubectl closes idle TLS connections): not an error
        super().handle_error(request, client_address)


class Request:
    """A parsed resource request."""

    def __init__(self) -> None:
        self.rt: Optional[resources.ResourceType] = None
        self.group = ""
        self.version = ""
        self.namespace = ""
        self.name = ""
        self.subresource = ""
        self.verb = ""
        self.query: Dict[str, str] = {}
        self.watch = False


def _status(code: int, reason: str, message: str,
            details: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    out: Dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                           "status": "Failure", "message": message, "reason": reason}
    if details:
        out["details"] = details
    out["code"] = code
    return out


def _flag(value: Optional[str]) -> bool:
    """A boolean query parameter ("true", "True", "1")."""
    return (value or "").lower() in ("true", "1")


def _partial(obj: Dict[str, Any]) -> Dict[str, Any]:
    """The meta.k8s.io/v1 PartialObjectMetadata view (Accept: ...;as=PartialObjectMetadata)."""
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata") or {}}


def _fields_v1(value: Any) -> Dict[str, Any]:
    """A FieldsV1 set for an applied configuration (maps by key; lists as a whole)."""
    if not isinstance(value, dict):
        return {}
    return {"f:%s" % k: _fields_v1(v) for k, v in value.items()}


def store_iso(epoch: float) -> str:
    from twin.store import iso
    return iso(epoch)


def _discovery_path(path: str) -> bool:
    from twin.rbac import DISCOVERY_URLS
    return any(path == u or (u.endswith("*") and path.startswith(u[:-1]))
               for u in DISCOVERY_URLS)


def _dry_run(req: "Request") -> bool:
    """?dryRun=All: validate and answer, change nothing."""
    value = req.query.get("dryRun", "")
    if value and value != "All":
        raise BadRequest('Invalid dryRun value "%s": valid values are "All"' % value)
    return value == "All"


def _single_name(req: "Request") -> str:
    """The object a list/watch is limited to by fieldSelector=metadata.name=X (RBAC uses it
    for resourceNames, as the real authorizer does)."""
    fs = req.query.get("fieldSelector") or ""
    if req.verb in ("list", "watch") and fs.startswith("metadata.name=") and "," not in fs:
        return fs[len("metadata.name="):]
    return ""


def parse_path(path: str) -> Optional[Tuple[str, str, List[str], bool]]:
    """(group, version, rest parts, legacy watch) for a resource path, or None."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    legacy_watch = bool(rest) and rest[0] == "watch"
    if legacy_watch:
        rest = rest[1:]
    return group, version, rest, legacy_watch


class ApiServer:
    """Owns the HTTP server thread; routes requests to the store."""

    def __init__(self, store: Store, authorizer: Optional[Authorizer] = None,
                 faults: Optional[ApiFaults] = None, host: str = "127.0.0.1",
                 port: int = 0, tls: bool = False) -> None:
        self.tls = tls
        self.ca_pem: Optional[bytes] = None
        self.store = store
        self.authorizer = authorizer
        self.faults = faults or ApiFaults()
        self.host = host
        self.port = port
        self._httpd: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self.request_count = 0
        self.bookmark_interval_s = 60.0  # wall clock, for watches with allowWatchBookmarks

    @property
    def url(self) -> str:
        return "%s://%s:%d" % ("https" if self.tls else "http", self.host, self.port)

    def start(self) -> "ApiServer":
        handler = type("BoundHandler", (_Handler,), {"api": self})
        self._httpd = _Server((self.host, self.port), handler)
        if self.tls:
            self._wrap_tls(self._httpd)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.2}, daemon=True,
                                        name="twin-apiserver")
        self._thread.start()
        return self

    def _wrap_tls(self, httpd: ThreadingHTTPServer) -> None:
        """Serve HTTPS with a fresh self-signed certificate for 127.0.0.1 (kubectl refuses to
        send bearer tokens over plain HTTP; the Python client does not mind either way)."""
        import ssl
        import subprocess
        import tempfile
        tmp = tempfile.mkdtemp(prefix="twin-tls-")
        cert, key = os.path.join(tmp, "tls.crt"), os.path.join(tmp, "tls.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                        "30", "-subj", "/CN=twin-apiserver", "-keyout", key, "-out", cert,
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                        "-addext", "basicConstraints=critical,CA:TRUE"],
                       check=True, capture_output=True)
        with open(cert, "rb") as fh:
            self.ca_pem = fh.read()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True,
                                       do_handshake_on_connect=False)

    def stop(self) -> None:
        self.faults.stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def stopping(self) -> bool:
        return self.faults.stopping.is_set()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out separately: avoid 40 ms stalls
    api: ApiServer

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

    # ----------------------------------------------------------------- route
    def _route(self, method: str, req: Request, body: Any, fault: Optional[Fault]) -> None:
        sub = req.subresource
        if sub == "log":
            return self._log(req)
        if sub == "eviction":
            return self._evict(req, body)
        if sub == "binding":
            return self._bind(req, body)
        if sub == "scale":
            return self._scale(method, req, body)
        if sub in ("proxy", "exec", "ephemeralcontainers", "finalize"):
            raise ApiError("the twin does not serve %s" % sub, code=405,
                           reason="MethodNotAllowed")
        if req.verb == "watch":
            return self._watch(req, fault)
        if req.verb == "list":
            return self._list(req)
        if req.verb == "get":
            entry = self.api.store.get_entry(req.rt.plural, req.namespace, req.name)
            if tables.wants_table(self.headers.get("Accept", "")) and not sub:
                return self._send(200, tables.table(
                    req.rt.plural, [entry.obj], entry.obj["metadata"]["resourceVersion"],
                    self.api.store.now_fn(), req.query.get("includeObject") or "Metadata"))
            if "as=PartialObjectMetadata" in self.headers.get("Accept", ""):
                return self._send(200, _partial(entry.obj))
            return self._send(200, entry.json)
        dry = _dry_run(req)
        scope = "status" if sub == "status" else "spec"
        store, plural = self.api.store, req.rt.plural
        if req.verb == "create":
            if not isinstance(body, dict):
                raise BadRequest("the request body must be an object")
            obj = store.create(plural, body, namespace=req.namespace or None, dry_run=dry,
                               admit=self._admitter(req, scope))
            return self._send(201, obj)
        if req.verb == "update":
            if not isinstance(body, dict):
                raise BadRequest("the request body must be an object")
            md = body.setdefault("metadata", {})
            if md.get("name") and md["name"] != req.name:
                raise BadRequest("the name of the object (%s) does not match the name on the "
                                 "URL (%s)" % (md["name"], req.name))
            md["name"] = req.name
            if req.namespace:
                md["namespace"] = req.namespace
            return self._send(200, store.update(plural, body, req.namespace or None, scope,
                                                dry, admit=self._admitter(req, scope)))
        if req.verb == "patch":
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if "strategic" in ctype and resources.is_custom(req.rt):
                raise ApiError("the body of the request was in an unknown format - accepted "
                               "media types include: application/json-patch+json, "
                               "application/merge-patch+json, application/apply-patch+yaml",
                               code=415, reason="UnsupportedMediaType")
            if ctype == "application/apply-patch+yaml":
                return self._apply(req, body, scope, dry)
            return self._send(200, store.patch(plural, req.namespace, req.name, body, ctype,
                                               scope, dry, admit=self._admitter(req, scope)))
        if req.verb == "delete":
            return self._delete(req, body or {}, dry)
        if req.verb == "deletecollection":
            items, rv = store.list(plural, req.namespace or None,
                                   req.query.get("labelSelector"),
                                   req.query.get("fieldSelector"), copy=False)
            names = [(o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in items]
            gone = []
            for ns, name in names:
                try:
                    gone.append(store.delete(plural, ns, name, dry_run=dry))
                except NotFound:
                    pass
            return self._send(200, {"kind": req.rt.list_kind,
                                    "apiVersion": req.rt.api_version,
                                    "metadata": {"resourceVersion": store.resource_version},
                                    "items": gone})
        raise ApiError("method not allowed", code=405, reason="MethodNotAllowed")

    def _apply(self, req: Request, body: Any, scope: str, dry: bool) -> None:
        """Server-side apply, simplified: create when absent, else merge the applied
        configuration over the object (no field-ownership conflicts); managedFields records
        the manager's fields (operation Apply)."""
        manager = req.query.get("fieldManager")
        if not manager:
            raise BadRequest("PATCH requests with apply content type must include fieldManager")
        if not isinstance(body, dict):
            raise BadRequest("the applied configuration must be an object")
        store, plural = self.api.store, req.rt.plural
        entry = {"manager": manager, "operation": "Apply", "apiVersion": req.rt.api_version,
                 "time": store_iso(store.now_fn()), "fieldsType": "FieldsV1",
                 "fieldsV1": _fields_v1({k: v for k, v in body.items()
                                         if k not in ("apiVersion", "kind")})}
        admit = self._admitter(req, scope)
        if not store.exists(plural, req.namespace, req.name):
            obj = dict(body)
            md = dict(obj.get("metadata") or {})
            md.update({"name": req.name, "managedFields": [entry]})
            if req.namespace:
                md["namespace"] = req.namespace
            obj["metadata"] = md
            return self._send(201, store.create(plural, obj, req.namespace or None, dry,
                                                admit=admit))
        current = store.get(plural, req.namespace, req.name)
        others = [m for m in current["metadata"].get("managedFields") or []
                  if m.get("manager") != manager]
        patch = dict(body)
        patch["metadata"] = dict(patch.get("metadata") or {}, managedFields=others + [entry])
        self._send(200, store.patch(plural, req.namespace, req.name, patch, "merge", scope,
                                    dry, admit=admit))

    def _admitter(self, req: Request, scope: str) -> Any:
        """The admission step for this write (defaults, schema, validation, warnings)."""
        field_validation = req.query.get("fieldValidation") or "Warn"

        def admit(old: Optional[Dict[str, Any]], new: Dict[str, Any]) -> None:
            self._warnings.extend(admission.admit(req.rt, new, old, field_validation, scope))
        return admit

    def _delete(self, req: Request, options: Dict[str, Any], dry: bool) -> None:
        pre = options.get("preconditions") or {}
        propagation = options.get("propagationPolicy") or req.query.get(
            "propagationPolicy") or "Background"
        if options.get("orphanDependents") is True:
            propagation = "Orphan"
        dry = dry or "All" in (options.get("dryRun") or [])
        grace = options.get("gracePeriodSeconds", req.query.get("gracePeriodSeconds"))
        try:
            grace = None if grace in (None, "") else int(grace)
        except (TypeError, ValueError):
            raise BadRequest("gracePeriodSeconds must be an integer") from None
        gone = self.api.store.delete(req.rt.plural, req.namespace, req.name, propagation,
                                     pre.get("uid"), pre.get("resourceVersion"), dry, grace)
        if req.rt.plural == "pods" or gone["metadata"].get("deletionTimestamp"):
            return self._send(200, gone)
        md = gone["metadata"]
        self._send(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                         "status": "Success", "details": {
                             "name": md["name"], "group": req.rt.group,
                             "kind": req.rt.plural, "uid": md.get("uid")}})

    def _list(self, req: Request) -> None:
        q = req.query
        entries, rv = self.api.store.list_entries(req.rt.plural, req.namespace or None,
                                                  q.get("labelSelector"),
                                                  q.get("fieldSelector"))
        start = 0
        if q.get("continue"):
            try:
                rv, start_s = q["continue"].split(":", 1)
                start = int(start_s)
            except ValueError:
                raise BadRequest("invalid continue token") from None
        limit = int(q.get("limit") or 0)
        meta: Dict[str, Any] = {"resourceVersion": rv}
        chunk = entries[start:]
        if limit and len(chunk) > limit:
            chunk = chunk[:limit]
            meta["continue"] = "%s:%d" % (rv, start + limit)
            meta["remainingItemCount"] = len(entries) - start - limit
        if "as=PartialObjectMetadataList" in self.headers.get("Accept", ""):
            meta["resourceVersion"] = rv
            return self._send(200, {"kind": "PartialObjectMetadataList",
                                    "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                                    "items": [_partial(e.obj) for e in chunk]})
        if tables.wants_table(self.headers.get("Accept", "")):
            out = tables.table(req.rt.plural, [e.obj for e in chunk], rv,
                               self.api.store.now_fn(),
                               q.get("includeObject") or "Metadata")
            out["metadata"].update(meta)
            return self._send(200, out)
        head = json.dumps({"kind": req.rt.list_kind, "apiVersion": req.rt.api_version,
                           "metadata": meta}, separators=(",", ":")).encode()
        data = b"".join([head[:-1], b',"items":[', b",".join(e.json for e in chunk), b"]}"])
        self._send(200, data)

    # ----------------------------------------------------------------- watch
    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _watch(self, req: Request, fault: Optional[Fault]) -> None:
        q = req.query
        timeout = float(q.get("timeoutSeconds") or DEFAULT_WATCH_TIMEOUT_S)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        try:
            w = self.api.store.watch(req.rt.plural, req.namespace or None,
                                     q.get("resourceVersion"), q.get("labelSelector"),
                                     q.get("fieldSelector"))
        except Gone as exc:
            self._chunk(json.dumps({"type": "ERROR", "object": exc.status()}).encode() + b"\n")
            self._chunk(b"")
            return
        drop_events = fault.drop_after_events if fault is not None else None
        drop_at = (time.monotonic() + fault.drop_after_s
                   if fault is not None and fault.drop_after_s is not None else None)
        deadline = time.monotonic() + timeout
        bookmarks = _flag(q.get("allowWatchBookmarks"))
        next_bookmark = time.monotonic() + self.api.bookmark_interval_s
        sent = 0
        try:
            while not self.api.stopping:
                now = time.monotonic()
                if now >= deadline:
                    break
                if bookmarks and now >= next_bookmark:
                    next_bookmark = now + self.api.bookmark_interval_s
                    mark = {"type": "BOOKMARK", "object": {
                        "kind": req.rt.kind, "apiVersion": req.rt.api_version,
                        "metadata": {"resourceVersion": self.api.store.resource_version}}}
                    self._chunk(json.dumps(mark, separators=(",", ":")).encode() + b"\n")
                if drop_at is not None and now >= drop_at:
                    return self._drop()
                wait = min(deadline - now, 0.5)
                if bookmarks:
                    wait = max(min(wait, next_bookmark - now), 0.01)
                item = w.next_entry(wait)
                if item is None:
                    if w.closed:  # overflowed: end the stream, the client re-lists
                        break
                    continue
                etype, entry = item
                self._chunk(b'{"type":"%s","object":%s}\n' % (etype.encode(), entry.json))
                sent += 1
                if drop_events is not None and sent >= drop_events:
                    return self._drop()
            self._chunk(b"")
        finally:
            w.stop()

    def _drop(self) -> None:
        """Cut the stream without the closing chunk, like a dropped connection."""
        self.close_connection = True
        self.wfile.flush()
        try:
            import socket
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ----------------------------------------------------------------- access reviews
    def _review(self, user: Tuple[str, bool], req: Request, body: Any) -> None:
        """authorization.k8s.io/v1 reviews answered by the twin's RBAC (never stored)."""
        if req.verb != "create":
            raise ApiError("the server does not allow this method on the requested resource",
                           code=405, reason="MethodNotAllowed")
        if not isinstance(body, dict):
            raise BadRequest("the request body must be an object")
        rt = req.rt
        spec = body.get("spec") or {}
        out = {"kind": rt.kind, "apiVersion": rt.api_version,
               "metadata": dict(body.get("metadata") or {}), "spec": spec}
        authz = self.api.authorizer
        name, admin = user
        if rt.plural in ("subjectaccessreviews", "localsubjectaccessreviews"):
            name = spec.get("user") or ""
            if not name and not spec.get("groups"):
                raise ApiError('%s.authorization.k8s.io "" is invalid: spec.user: Invalid '
                               'value: "": at least one of user or group must be specified'
                               % rt.kind, code=422, reason="Invalid")
            admin = "system:masters" in (spec.get("groups") or []) or bool(
                authz and authz.is_admin(name))
        if rt.plural == "selfsubjectrulesreviews":
            ns = spec.get("namespace") or ""
            out["status"] = authz.rules_review(name, admin, ns) if authz else {
                "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                "nonResourceRules": [], "incomplete": False}
            return self._send(201, out)
        attrs = spec.get("resourceAttributes")
        if attrs is None and spec.get("nonResourceAttributes") is None:
            raise ApiError('%s.authorization.k8s.io "" is invalid: spec.resourceAttributes: '
                           "Invalid value: \"null\": exactly one of nonResourceAttributes or "
                           "resourceAttributes must be specified" % rt.kind, code=422,
                           reason="Invalid")
        if attrs is not None:
            ns = attrs.get("namespace", "") if rt.plural != "localsubjectaccessreviews" \
                else req.namespace
            ok = authz is None or authz.check(
                name, admin, attrs.get("verb", ""), attrs.get("group", ""),
                attrs.get("resource", ""), attrs.get("subresource", ""), ns,
                attrs.get("name", ""))
        else:
            path = (spec.get("nonResourceAttributes") or {}).get("path", "")
            verb = (spec.get("nonResourceAttributes") or {}).get("verb", "")
            ok = admin or (verb == "get" and _discovery_path(path))
        out["status"] = {"allowed": bool(ok)}
        if ok and not admin:
            out["status"]["reason"] = 'RBAC: allowed for "%s"' % name
        self._send(201, out)

    # ----------------------------------------------------------------- subresources
    def _log(self, req: Request) -> None:
        q = req.query
        text = self.api.store.read_log(
            req.namespace, req.name, q.get("container") or None,
            _flag(q.get("previous")),
            int(q["tailLines"]) if q.get("tailLines") else None,
            int(q["limitBytes"]) if q.get("limitBytes") else None)
        self._send(200, text, "text/plain")

    def _evict(self, req: Request, body: Any) -> None:
        from twin import controllers
        dry = _dry_run(req) or bool(isinstance(body, dict) and "All" in (
            (body.get("deleteOptions") or {}).get("dryRun") or []))
        controllers.evict(self.api.store, req.namespace, req.name, dry_run=dry)
        self._send(201, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                         "status": "Success", "code": 201})

    def _bind(self, req: Request, body: Any) -> None:
        target = ((body or {}).get("target") or {}).get("name")
        if not target:
            raise BadRequest("binding target is required")
        from twin import controllers
        controllers.bind_pod(self.api.store, req.namespace, req.name, target)
        self._send(201, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                         "status": "Success", "code": 201})

    def _scale(self, method: str, req: Request, body: Any) -> None:
        store, plural = self.api.store, req.rt.plural
        obj = store.get(plural, req.namespace, req.name)
        if method == "GET":
            return self._send(200, scale_of(obj))
        current = scale_of(obj)
        if method == "PUT":
            new = body if isinstance(body, dict) else {}
        else:
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            from twin import patches
            if "json-patch" in ctype:
                new = patches.json_patch(current, body)
            elif "strategic" in ctype:
                new = patches.strategic_merge_patch(current, body)
            else:
                new = patches.merge_patch(current, body)
        rv = (new.get("metadata") or {}).get("resourceVersion")
        replicas = (new.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise ApiError('Scale.autoscaling "%s" is invalid: spec.replicas: Invalid value: '
                           '%r: must be greater than or equal to 0' % (req.name, replicas),
                           code=422, reason="Invalid")
        patch_body: Dict[str, Any] = {"spec": {"replicas": replicas}}
        if rv:
            patch_body["metadata"] = {"resourceVersion": rv}
        updated = store.patch(plural, req.namespace, req.name, patch_body, "merge",
                              dry_run=_dry_run(req))
        self._send(200, scale_of(updated))


def scale_of(obj: Dict[str, Any]) -> Dict[str, Any]:
    """The autoscaling/v1 Scale view of a deployment/replicaset/machinedeployment."""
    md = obj["metadata"]
    status = obj.get("status") or {}
    selector = status.get("selector")
    if not isinstance(selector, str):
        sel = (obj.get("spec") or {}).get("selector") or {}
        labels = sel.get("matchLabels") or {} if obj.get("kind") != "ReplicationController" \
            else sel
        selector = ",".join("%s=%s" % kv for kv in sorted(labels.items()))
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                            "creationTimestamp") if k in md},
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
            "status": {"replicas": status.get("replicas", 0), "selector": selector}}



class ServedApi:
    """A running API server with tokens and kubeconfigs: what the world, tests and `make twin` use.

        api = ServedApi.start(store, workdir, deploy_dir="deploy")   # or rbac_docs=[...]
        api.url, api.sa_token, api.admin_token, api.kubeconfigs["pack"|"admin"]
        api.server.faults, api.authorizer.usage_log(); api.stop()
    """

    def __init__(self, server: ApiServer, authorizer: Authorizer, sa_token: str,
                 admin_token: str, kubeconfigs: Dict[str, str]) -> None:
        self.server = server
        self.authorizer = authorizer
        self.sa_token = sa_token
        self.admin_token = admin_token
        self.kubeconfigs = kubeconfigs

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def faults(self) -> ApiFaults:
        return self.server.faults

    @classmethod
    def start(cls, store: Store, workdir: str, deploy_dir: Optional[str] = None,
              rbac_docs: Optional[List[Dict[str, Any]]] = None,
              faults: Optional[ApiFaults] = None, port: int = 0,
              tls: bool = False) -> "ServedApi":
        from twin import kubeconfig
        from twin.rbac import ADMIN_USER
        if rbac_docs is not None:
            authz = Authorizer.from_manifests(rbac_docs)
        elif deploy_dir is not None:
            authz = Authorizer.from_deploy_dir(deploy_dir)
        else:
            authz = Authorizer()
        sa_token = authz.add_token(authz.sa_user)
        admin_token = authz.add_token(ADMIN_USER, admin=True)
        server = ApiServer(store, authz, faults, port=port, tls=tls).start()
        paths = kubeconfig.write_kubeconfigs(workdir, server.url, sa_token, admin_token,
                                             ca_pem=server.ca_pem)
        return cls(server, authz, sa_token, admin_token, paths)

    def stop(self) -> None:
        self.server.stop()

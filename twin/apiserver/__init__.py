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

The package: `handler` (plumbing, dispatch, discovery, parsing), `verbs`, `watch`,
`subresources`, `request` (the parsed request and response helpers). This module keeps the
server (thread, TLS) and `ServedApi`.
"""
import os
import threading
from http.server import ThreadingHTTPServer
from typing import Any, Dict, List, Optional

from twin.apiserver.handler import _Handler
from twin.faults import ApiFaults
from twin.rbac import Authorizer
from twin.store import Store

class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # many pack workers and watches connect at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys
        if isinstance(sys.exc_info()[1], (ConnectionError, OSError)):
            return  # a client hung up (kubectl closes idle TLS connections): not an error
        super().handle_error(request, client_address)


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

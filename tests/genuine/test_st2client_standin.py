"""The engine's st2client stand-in (engine/st2client_standin -> engine.st2api.Client) offers the
calls the pack's actions make with genuine st2client's signatures and not-found behaviour."""
import inspect
import re
import subprocess
import sys

import pytest

pytest.importorskip("st2common.models.api.action",
                    reason="needs genuine StackStorm st2common (run `make test-st2`)")

from genuine_pack import REPO_ROOT  # noqa: E402
from st2client.client import Client as GenuineClient  # noqa: E402

from engine import st2api  # noqa: E402

pytestmark = pytest.mark.genuine

# manager attribute -> methods of it that pack code may call
CALLS = {"inquiries": ("get_all", "get_by_id", "respond"),
         "executions": ("get_by_id", "create"), "keys": ("get_by_name",),
         "webhooks": ("post_generic_webhook",)}


def _named_parameters(method):
    return [p.name for p in inspect.signature(method).parameters.values()
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]


def test_pack_code_only_calls_what_the_standin_offers():
    import glob

    used = set()
    for path in glob.glob("%s/actions/**/*.py" % REPO_ROOT, recursive=True):
        with open(path) as handle:
            used.update(re.findall(r"client\.(\w+)\.(\w+)\(", handle.read()))
    assert used, "no st2client calls found in actions/"
    assert used <= {(m, c) for m, calls in CALLS.items() for c in calls}, sorted(used)


@pytest.mark.parametrize("manager, method", [(m, c) for m, cs in CALLS.items() for c in cs])
def test_standin_signature_matches_st2client(manager, method):
    genuine = getattr(getattr(GenuineClient(api_url="http://127.0.0.1:9/api/v1", token="t"),
                              manager), method)
    standin = getattr(getattr(st2api.Client(api_url=st2api.API_URL, token=st2api.TOKEN),
                              manager), method)
    genuine_names = _named_parameters(genuine)
    standin_names = _named_parameters(standin)
    assert standin_names[:len(genuine_names)] == genuine_names, (standin_names, genuine_names)
    assert all(inspect.signature(standin).parameters[n].default is not inspect.Parameter.empty
               for n in standin_names[len(genuine_names):]), standin_names


NOT_FOUND_SERVER = """
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass
    def do_GET(self):
        body = b'{"faultstring": "not found"}'
        self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
server = http.server.HTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def test_get_by_id_of_an_unknown_id_is_none_in_both():
    server = subprocess.Popen([sys.executable, "-I", "-c", NOT_FOUND_SERVER],
                              stdout=subprocess.PIPE, universal_newlines=True)
    try:
        url = "http://127.0.0.1:%d/api/v1" % int(server.stdout.readline())
        genuine = GenuineClient(api_url=url, token="t")
        assert genuine.executions.get_by_id("nope") is None
        assert genuine.inquiries.get_by_id("nope") is None
    finally:
        server.kill()
        server.wait()
        server.stdout.close()

    class Runner(object):
        executions = []

        class inquiry_policy(object):  # noqa: N801
            @staticmethod
            def find(_id):
                return None

    st2api.activate(Runner())
    try:
        standin = st2api.Client(api_url=st2api.API_URL, token=st2api.TOKEN)
        assert standin.executions.get_by_id("nope") is None
        assert standin.inquiries.get_by_id("nope") is None
    finally:
        st2api.activate(None)

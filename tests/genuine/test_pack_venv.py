"""The pack's virtualenv in front of StackStorm's packages, as StackStorm's python runner and
sensor container arrange it (st2common.util.sandboxing): the pack's requirements admit st2's own
pins, and st2's genuine action wrapper and sensor wrapper start with the pack's packages first."""
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("st2common.models.api.action",
                    reason="needs genuine StackStorm st2common (run `make test-st2`)")

from genuine_pack import PACK_REF, REPO_ROOT, ST2_SRC  # noqa: E402
from packaging.requirements import Requirement  # noqa: E402

pytestmark = pytest.mark.genuine

WRAPPER = os.path.join(ST2_SRC, "contrib", "runners", "python_runner", "python_runner",
                       "python_action_wrapper.py")
DELIMITER = "%%%%%~=~=~=************=~=~=~%%%%"


def st2_pins():
    """name -> version of every `name==version` in st2's fixed-requirements.txt."""
    pins = {}
    with open(os.path.join(ST2_SRC, "fixed-requirements.txt")) as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if "==" in line and not line.startswith("-"):
                req = Requirement(line)
                pins[req.name.lower()] = str(req.specifier).lstrip("=")
    return pins


def pack_requirements():
    with open(os.path.join(REPO_ROOT, "requirements.txt")) as handle:
        lines = [ln.split("#", 1)[0].strip() for ln in handle]
    return [Requirement(ln) for ln in lines if ln]


def pack_venv():
    """The pack virtualenv: the first PYTHONPATH entry (make test-st2 puts its site-packages
    there, as StackStorm's sandboxing does)."""
    first = os.environ.get("PYTHONPATH", "").split(":")[0]
    root = os.path.dirname(os.path.dirname(os.path.dirname(first)))
    python = os.path.join(root, "bin", "python")
    if not (first.endswith("site-packages") and os.path.isfile(python)):
        pytest.fail("PYTHONPATH must start with the pack virtualenv's site-packages "
                    "(run `make test-st2`), got %r" % first)
    return root, first, python


def sandbox_env():
    """PYTHONPATH as get_sandbox_python_path_for_python_action builds it: the pack venv's
    lib/python3.x and site-packages, the pack's actions/lib, st2's path, st2's site-packages."""
    root, site, _python = pack_venv()
    st2_path = [p for p in os.environ["PYTHONPATH"].split(":") if p and p != site]
    st2_site = [p for p in sys.path if p.endswith("site-packages") and p != site][:1]
    path = [os.path.dirname(site), site, os.path.join(REPO_ROOT, "actions", "lib")]
    env = dict(os.environ, PYTHONPATH=":".join(path + st2_path + st2_site))
    env.pop("ST2_USE_DEBUGGER", None)
    return env


def run_in_pack_venv(args, timeout=120):
    result = subprocess.run([pack_venv()[2], "-W", "ignore"] + args, env=sandbox_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=timeout, cwd=REPO_ROOT)
    return result.returncode, result.stdout


def wrapper_result(output):
    assert DELIMITER in output, output[-3000:]
    return json.loads(output.split(DELIMITER)[1])


def test_pack_requirements_admit_every_version_st2_pins():
    """A pack requirement on a package st2 also pins must accept st2's version (Jinja2>=3.0
    against st2's jinja2 2.11.3 was such a clash)."""
    pins = st2_pins()
    assert pins.get("pyyaml") == "5.4.1" and pins.get("jinja2") == "2.11.3"
    checked = []
    for req in pack_requirements():
        if req.marker is not None and not req.marker.evaluate():
            continue
        pinned = pins.get(req.name.lower())
        if pinned:
            checked.append(req.name)
            assert req.specifier.contains(pinned, prereleases=True), \
                "%s excludes st2 3.8.1's %s==%s" % (req, req.name, pinned)
    assert {"PyYAML", "requests", "cryptography"} <= set(checked), checked


def test_sensor_wrapper_imports_and_monkey_patches_with_the_pack_venv_first():
    """st2's sensor wrapper patches with eventlet on import (eventlet's ssl imports st2's
    pyOpenSSL, which breaks on a cryptography >= 41 from the pack venv)."""
    code, out = run_in_pack_venv(["-c", (
        "import st2reactor.container.sensor_wrapper, eventlet.patcher as p, cryptography, "
        "yaml, requests; print('patched', p.is_monkey_patched('socket'), "
        "cryptography.__file__, yaml.__file__)")])
    assert code == 0, out
    assert "patched True" in out, out
    site = pack_venv()[1]
    assert out.count(site) == 2, out  # cryptography and yaml come from the pack venv


# A one-answer Prometheus in its own (unpatched) process: a server thread in this test process
# would starve while the eventlet-patched process waits for the wrapper.
PROMETHEUS = """
import http.server, json, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass
    def do_GET(self):
        body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {}, "value": [time.time(), "0.5"]}]}}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
server = http.server.HTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


@pytest.fixture
def prometheus_url():
    server = subprocess.Popen([sys.executable, "-I", "-c", PROMETHEUS], stdout=subprocess.PIPE,
                              universal_newlines=True)
    try:
        yield "http://127.0.0.1:%d" % int(server.stdout.readline())
    finally:
        server.kill()
        server.wait()
        server.stdout.close()


def test_genuine_action_wrapper_runs_a_pack_action_from_the_pack_venv(prometheus_url):
    """The python runner's own wrapper, under the pack venv's interpreter, runs the pack's
    wait_for_condition (requests to Prometheus) and prints its result."""
    config = {"prometheus": {"url": prometheus_url, "timeout_s": 5}}
    params = {"query": "up", "comparator": "<", "threshold": 1, "hold_s": 0, "timeout_s": 30,
              "poll_s": 1}
    code, out = run_in_pack_venv([WRAPPER, "--pack", PACK_REF, "--file-path",
                                  os.path.join(REPO_ROOT, "actions", "wait_for_condition.py"),
                                  "--config", json.dumps(config),
                                  "--parameters", json.dumps(params)])
    assert code == 0, out
    result = wrapper_result(out)["result"]
    assert result["met"] is True and result["value"] == 0.5, result


def test_genuine_action_wrapper_does_not_monkey_patch(tmp_path):
    """Measured fact: StackStorm 3.8.1's python_action_wrapper does not call eventlet's
    monkey_patch (the sensor wrapper and st2tests do), so actions must work either way."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import socket\n"
        "from st2common.runners.base_action import Action\n\n\n"
        "class Probe(Action):\n"
        "    def run(self):\n"
        "        import eventlet.patcher as p\n"
        "        return {'socket': p.is_monkey_patched('socket'),\n"
        "                'thread': p.is_monkey_patched('thread'),\n"
        "                'stdlib_socket': socket.socket.__module__ == 'socket'}\n")
    code, out = run_in_pack_venv([WRAPPER, "--pack", PACK_REF, "--file-path", str(probe),
                                  "--parameters", "{}"])
    assert code == 0, out
    assert wrapper_result(out)["result"] == {"socket": False, "thread": False,
                                             "stdlib_socket": True}

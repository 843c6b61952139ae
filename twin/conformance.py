"""`python -m twin.conformance`: the official Python client's own e2e suite, run unchanged
against the twin, as a benchmark of the twin's fidelity (not a CI gate).

    python -m twin.conformance [--src CHECKOUT] [--out build/conformance]

Where the tests come from (at run time, into --out; nothing is committed):
1. `--src` (or E2E_SRC): a checkout of kubernetes-client/python at the tag of the installed
   client; its kubernetes/e2e_test is used as is.
2. Otherwise the client's sdist (`pip download --no-binary :all: --no-deps
   kubernetes==<installed>`), if it ships kubernetes/e2e_test.
3. Otherwise only the e2e tests the installed package itself ships
   (kubernetes/dynamic/test_client.py, test_discovery.py), with a stand-in for the missing
   `kubernetes.e2e_test.base` config hook (same contract: configuration from ~/.kube/config).

The twin: store + controllers (15 virtual seconds every 0.05 s) + API server over TLS, three
Ready nodes, admin kubeconfig as ~/.kube/config of a scratch HOME. Prints passed/failed/skipped
and the failures grouped by cause.
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional, Tuple

from twin.apiserver import ServedApi
from twin.controllers import Controllers
from twin.store import Store

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BASE_STANDIN = '''"""Stand-in for kubernetes.e2e_test.base (absent from this client's sdist): the
configuration of the cluster in ~/.kube/config, as the upstream hook loads it."""
import os
import unittest

from kubernetes.client.configuration import Configuration
from kubernetes.config import kube_config


def get_e2e_configuration():
    config = Configuration()
    if not os.path.exists(os.path.expanduser(kube_config.KUBE_CONFIG_DEFAULT_LOCATION)):
        raise unittest.SkipTest("Unable to find a running Kubernetes instance")
    kube_config.load_kube_config(client_configuration=config)
    config.assert_hostname = False
    return config
'''
_SITE = '''import os
import kubernetes
kubernetes.__path__.append(os.path.join(os.environ["TWIN_E2E_OVERLAY"], "kubernetes"))
'''
# (pattern in the failure text, cause) - first match wins
_CAUSES: List[Tuple[str, str]] = [
    (r"Handshake status 40[45]|\(405\)|MethodNotAllowed|does not serve",
     "exec/attach/port-forward/proxy not served (websocket)"),
    (r"FileNotFoundError|ModuleNotFoundError|ImportError", "test set-up"),
    (r"apply-patch|server-side apply|\(415\)|UnsupportedMediaType", "server-side apply / 415"),
    (r"\(404\)[\s\S]*(could not find the requested resource)|No module|ResourceNotFoundError|"
     r"not find the requested resource", "resource or API group not served"),
    (r"\(422\)|Invalid", "validation (422)"),
    (r"\(400\)|BadRequest", "bad request (400)"),
    (r"\(409\)|AlreadyExists|Conflict", "conflict (409)"),
    (r"Timeout|timed out|TimeoutError", "timeout"),
    (r"AssertionError", "assertion on a response"),
]


def _installed_version() -> str:
    import kubernetes
    return kubernetes.__version__


def _from_sdist(version: str, out: str) -> Optional[str]:
    target = os.path.join(out, "sdist")
    os.makedirs(target, exist_ok=True)
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-binary",
                           ":all:", "--no-deps", "kubernetes==%s" % version, "-d", target],
                          capture_output=True, text=True)
    archives = glob.glob(os.path.join(target, "kubernetes-%s.tar.gz" % version))
    if proc.returncode != 0 or not archives:
        print("could not download the sdist of kubernetes==%s: %s" % (
            version, proc.stderr.strip()[-300:]))
        return None
    with tarfile.open(archives[0]) as tar:
        members = [m for m in tar.getmembers() if "/kubernetes/e2e_test/" in m.name]
        if not members:
            print("the sdist of kubernetes==%s does not ship kubernetes/e2e_test" % version)
            return None
        tar.extractall(target, members=members)
    found = glob.glob(os.path.join(target, "*", "kubernetes", "e2e_test"))
    return found[0] if found else None


def prepare(out: str, src: Optional[str]) -> Tuple[List[str], str]:
    """(test paths, description); fills out/overlay/kubernetes/e2e_test."""
    version = _installed_version()
    overlay = os.path.join(out, "overlay", "kubernetes", "e2e_test")
    shutil.rmtree(os.path.dirname(overlay), ignore_errors=True)
    e2e = os.path.join(src, "kubernetes", "e2e_test") if src else _from_sdist(version, out)
    if e2e and os.path.isdir(e2e):
        shutil.copytree(e2e, overlay)
        tests = sorted(glob.glob(os.path.join(overlay, "test_*.py")))
        return tests, "kubernetes/e2e_test of %s (client %s)" % (src or "the sdist", version)
    os.makedirs(overlay)
    with open(os.path.join(overlay, "__init__.py"), "w"):
        pass
    with open(os.path.join(overlay, "base.py"), "w") as fh:
        fh.write(_BASE_STANDIN)
    import kubernetes.dynamic
    pkg = os.path.dirname(kubernetes.dynamic.__file__)
    tests = [os.path.join(pkg, name) for name in ("test_client.py", "test_discovery.py")]
    return tests, ("the e2e tests shipped in the installed client %s (kubernetes/dynamic), "
                   "with a stand-in base config hook; pass E2E_SRC=<kubernetes-client/python "
                   "checkout at v%s> for the full suite" % (version, version))


class _Cluster:
    def __init__(self, workdir: str) -> None:
        self.t = time.time()
        self.store = Store(now_fn=lambda: self.t, seed=1)
        self.ctl = Controllers(self.store, now_fn=lambda: self.t)
        self.api = ServedApi.start(self.store, os.path.join(workdir, "kube"),
                                   deploy_dir=os.path.join(REPO, "deploy"), tls=True)
        for name in ("node-1", "node-2", "node-3"):
            cap = {"cpu": "8", "memory": "32Gi", "pods": "110"}
            self.store.create("nodes", {"metadata": {"name": name, "labels": {
                "kubernetes.io/hostname": name}}, "spec": {}, "status": {
                "capacity": cap, "allocatable": dict(cap),
                "conditions": [{"type": "Ready", "status": "True"}]}})
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.t += 15.0
            try:
                self.ctl.step()
            except Exception:  # noqa: BLE001 - a benchmark keeps serving
                pass
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.api.stop()


def classify(text: str) -> str:
    for pattern, cause in _CAUSES:
        if re.search(pattern, text):
            return cause
    return "other"


def run(out: str, src: Optional[str], timeout_s: float) -> int:
    os.makedirs(out, exist_ok=True)
    tests, what = prepare(out, src)
    print("running %d file(s): %s" % (len(tests), what))
    work = tempfile.mkdtemp(prefix="twin-e2e-")
    cluster = _Cluster(work)
    home = os.path.join(work, "home")
    os.makedirs(os.path.join(home, ".kube"))
    shutil.copy(cluster.api.kubeconfigs["admin"], os.path.join(home, ".kube", "config"))
    site = os.path.join(work, "site")
    os.makedirs(site)
    with open(os.path.join(site, "sitecustomize.py"), "w") as fh:
        fh.write(_SITE)
    junit = os.path.join(out, "e2e-junit.xml")
    env = dict(os.environ, HOME=home, TWIN_E2E_OVERLAY=os.path.join(out, "overlay"),
               PYTHONPATH=os.pathsep.join([site, os.environ.get("PYTHONPATH", "")]))
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               "-o", "addopts=", "--rootdir", os.path.dirname(tests[0]),
                               "--junitxml", junit] + tests, env=env,
                              cwd=os.path.join(out, "overlay"),  # test_yaml/ paths
                              capture_output=True, text=True, timeout=timeout_s)
        tail = proc.stdout.strip().splitlines()[-1:] if proc.stdout else []
        print("pytest: %s" % (tail[0] if tail else proc.stderr.strip()[-300:]))
    except subprocess.TimeoutExpired:
        print("pytest: stopped after %d s" % timeout_s)
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    return report(junit)


def report(junit: str) -> int:
    if not os.path.exists(junit):
        print("no results")
        return 1
    root = ET.parse(junit).getroot()
    passed, failed, skipped = [], [], []
    causes: Dict[str, List[str]] = {}
    for case in root.iter("testcase"):
        name = "%s.%s" % (case.get("classname", "").rsplit(".", 1)[-1], case.get("name"))
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        if case.find("skipped") is not None:
            skipped.append(name)
        elif bad is not None:
            failed.append(name)
            causes.setdefault(classify(bad.get("message") or bad.text or ""), []).append(name)
        else:
            passed.append(name)
    total = len(passed) + len(failed)
    print("e2e against the twin: %d passed, %d failed, %d skipped (%d of %d run)"
          % (len(passed), len(failed), len(skipped), len(passed), total))
    for cause, names in sorted(causes.items(), key=lambda kv: -len(kv[1])):
        print("  failed, %s: %d  (%s)" % (cause, len(names), ", ".join(sorted(names))))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m twin.conformance", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", default=os.environ.get("E2E_SRC") or None,
                        help="kubernetes-client/python checkout at the installed client's tag")
    parser.add_argument("--out", default=os.path.join(REPO, "build", "conformance"))
    parser.add_argument("--timeout", type=float, default=1200.0)
    args = parser.parse_args(argv)
    return run(args.out, args.src, args.timeout)


if __name__ == "__main__":
    sys.exit(main())

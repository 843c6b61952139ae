"""A twin cluster served over TLS with its controllers running on a background thread (virtual
time runs fast), for driving the real kubectl binary against it."""
import os
import shutil
import subprocess
import threading
import time
from typing import Any, Dict, List

from twin.apiserver import ServedApi
from twin.controllers import Controllers
from twin.store import Store

KUBECTL = os.environ.get("TWIN_KUBECTL") or shutil.which("kubectl") or "/usr/bin/kubectl"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
START = 1795835842.0


class KubectlCluster:
    """Store + controllers (stepped every `tick_s` real seconds, 15 virtual) + TLS API server
    with the pack's RBAC from deploy/; `kubectl(*args)` runs the binary as admin (or sa)."""

    def __init__(self, workdir: str, tick_s: float = 0.05) -> None:
        self.t = START
        self.lock = threading.Lock()
        self.store = Store(now_fn=lambda: self.t, seed=5)
        self.ctl = Controllers(self.store, now_fn=lambda: self.t)
        self.api = ServedApi.start(self.store, os.path.join(workdir, "kube"),
                                   deploy_dir=os.path.join(REPO, "deploy"), tls=True)
        self.home = os.path.join(workdir, "home")
        os.makedirs(self.home, exist_ok=True)
        self._stop = threading.Event()
        self._tick_s = tick_s
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "KubectlCluster":
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            with self.lock:
                self.t += 15.0
                self.ctl.step()
            time.sleep(self._tick_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.api.stop()

    def kubectl(self, *args: str, sa: bool = False, check: bool = True, stdin: str = "",
                timeout: float = 60, binary: str = "") -> subprocess.CompletedProcess:
        env = {"HOME": self.home, "PATH": os.environ.get("PATH", ""),
               "KUBECONFIG": self.api.kubeconfigs["pack" if sa else "admin"]}
        proc = subprocess.run([binary or KUBECTL] + list(args), input=stdin, capture_output=True,
                              text=True, env=env, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError("kubectl %s failed (%d):\n%s\n%s" % (
                " ".join(args), proc.returncode, proc.stdout, proc.stderr))
        return proc


def node(name: str, cpu: str = "4", memory: str = "8Gi") -> Dict[str, Any]:
    cap = {"cpu": cpu, "memory": memory, "pods": "110"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                  "node-pool": "pool-a"}},
            "spec": {}, "status": {"capacity": cap, "allocatable": dict(cap),
                                   "conditions": [{"type": "Ready", "status": "True",
                                                   "reason": "KubeletReady"}]}}


def lines(text: str) -> List[str]:
    return [line for line in text.splitlines() if line.strip()]

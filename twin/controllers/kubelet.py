"""The minimal kubelet: pods start, terminating pods finish their grace period, and
control-plane nodes get their static (mirror) pods.
"""
import hashlib
import zlib
from typing import Any, Callable, Dict, Optional

from twin.controllers.objects import _epoch_of, _set_condition, node_ready
from twin.store import NotFound, iso

DEFAULT_SHUTDOWN_S = 2.0  # seconds an app takes to exit on SIGTERM unless annotated
SHUTDOWN_ANNOTATION = "twin.self-healing.io/shutdown-s"
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
STATIC_PODS = (("etcd", "100m", "100Mi"), ("kube-apiserver", "250m", "512Mi"),
               ("kube-controller-manager", "200m", "128Mi"), ("kube-scheduler", "100m", "64Mi"))


class KubeletControllers:
    """Pod start, graceful deletion and mirror pods."""

    # ----------------------------------------------------------------- minimal kubelet
    def start_pods(self) -> int:
        """Bound Pending pods without container statuses become Running and Ready."""
        started = 0
        now = iso(self.now_fn())
        ready: Dict[str, bool] = {}
        pending = sorted(self.store.pods_in_phase("Pending"), key=lambda p: (
            p["metadata"]["namespace"], p["metadata"]["name"]))
        for pod in pending:
            st = pod.get("status") or {}
            name = (pod.get("spec") or {}).get("nodeName")
            if not name or st.get("containerStatuses"):
                continue
            if name not in ready:
                try:
                    ready[name] = node_ready(self.store.get_entry("nodes", None, name).obj)
                except NotFound:
                    ready[name] = False
            if not ready[name]:
                continue
            md = pod["metadata"]
            try:
                self.store.mutate("pods", md["namespace"], md["name"],
                                  _start_fn(now, name, self.store.random_suffix(3)),
                                  copy_result=False)
                started += 1
            except NotFound:
                continue
        return started

    # ----------------------------------------------------------------- graceful deletion
    def finish_terminating(self) -> int:
        """The kubelet's side of graceful deletion: a Terminating pod on a Ready node is
        deleted (grace 0) once its containers have stopped, min(deletionGracePeriodSeconds,
        the `twin.self-healing.io/shutdown-s` annotation, default DEFAULT_SHUTDOWN_S) after the
        delete; on a node that is not Ready it stays Terminating (nobody confirms); on a node
        that no longer exists it is removed (pod GC). Returns how many pods went."""
        now = self.now_fn()
        nodes: Dict[str, Optional[bool]] = {}
        done = 0
        for pod in list(self.store.terminating("pods")):
            md, spec = pod["metadata"], pod.get("spec") or {}
            grace = md.get("deletionGracePeriodSeconds", 0)
            if not grace:
                continue  # already confirmed: waiting for finalizers
            name = spec.get("nodeName", "")
            if name not in nodes:
                try:
                    nodes[name] = node_ready(self.store.get_entry("nodes", None, name).obj)
                except NotFound:
                    nodes[name] = None
            if nodes[name] is False:
                continue
            if nodes[name]:
                try:
                    shutdown = float((md.get("annotations") or {}).get(
                        SHUTDOWN_ANNOTATION, DEFAULT_SHUTDOWN_S))
                except ValueError:
                    shutdown = DEFAULT_SHUTDOWN_S
                started = _epoch_of(md["deletionTimestamp"]) - grace
                if now < started + min(float(grace), max(shutdown, 0.0)):
                    continue
            try:
                self.store.delete("pods", md["namespace"], md["name"], grace_period=0)
                done += 1
            except NotFound:
                continue
        return done

    # ----------------------------------------------------------------- static pods
    def reconcile_mirror_pods(self) -> int:
        """The kubelet's mirror pods for the static control-plane manifests on nodes labelled
        node-role.kubernetes.io/control-plane (kube-system/<component>-<node>, annotation
        kubernetes.io/config.mirror, owned by the Node); a deleted one comes back. Returns
        how many were created."""
        created = 0
        for node in self.store.list("nodes", label_selector=CONTROL_PLANE_LABEL,
                                    copy=False)[0]:
            nmd = node["metadata"]
            for component, cpu, memory in STATIC_PODS:
                name = "%s-%s" % (component, nmd["name"])
                if self.store.exists("pods", "kube-system", name):
                    continue
                digest = hashlib.sha1(name.encode()).hexdigest()[:32]
                self.store.create("pods", {"metadata": {
                    "name": name, "namespace": "kube-system",
                    "labels": {"component": component, "tier": "control-plane"},
                    "annotations": {MIRROR_ANNOTATION: digest,
                                    "kubernetes.io/config.hash": digest,
                                    "kubernetes.io/config.source": "file"},
                    "ownerReferences": [{"apiVersion": "v1", "kind": "Node",
                                         "name": nmd["name"], "uid": nmd["uid"],
                                         "controller": True}]},
                    "spec": {"nodeName": nmd["name"], "priority": 2000001000,
                             "priorityClassName": "system-node-critical",
                             "hostNetwork": True, "restartPolicy": "Always",
                             "terminationGracePeriodSeconds": 30,
                             "tolerations": [{"operator": "Exists", "effect": "NoExecute"}],
                             "containers": [{"name": component,
                                             "image": "registry.k8s.io/%s:v1.31.0" % component,
                                             "resources": {"requests": {
                                                 "cpu": cpu, "memory": memory}}}]},
                    "status": {"phase": "Pending", "qosClass": "Burstable"}},
                    copy_result=False)
                created += 1
        return created


def _start_fn(now: str, node: str, ip_suffix: str) -> Callable[[Dict[str, Any]], None]:
    def fn(pod: Dict[str, Any]) -> None:
        st = pod.setdefault("status", {})
        st["phase"] = "Running"
        st["startTime"] = now
        st["hostIP"] = "10.0.%d.1" % (zlib.crc32(node.encode()) % 250)
        st["podIP"] = "10.%d.%d.%d" % tuple(ord(c) % 250 for c in ip_suffix)
        conds = st.get("conditions") or []
        for ctype in ("Initialized", "ContainersReady", "Ready", "PodScheduled"):
            conds = _set_condition(conds, ctype, "True", "", "", now)
        for c in conds:
            if c.get("reason") == "":
                c.pop("reason", None)
                c.pop("message", None)
        st["conditions"] = conds
        st["containerStatuses"] = [{
            "name": c.get("name"), "image": c.get("image"), "imageID": "",
            "ready": True, "started": True, "restartCount": 0,
            "state": {"running": {"startedAt": now}}, "lastState": {},
            "containerID": "containerd://%s" % hashlib.sha1(
                (pod["metadata"]["uid"] + str(c.get("name"))).encode()).hexdigest()}
            for c in (pod.get("spec") or {}).get("containers") or []]
    return fn

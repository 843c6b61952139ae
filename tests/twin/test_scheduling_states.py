"""Scheduling states as Kubernetes has them, with the world's kubelet model (twin.model):
a pod that cannot be placed stays Pending (PodScheduled=False/Unschedulable, a FailedScheduling
event worded like kube-scheduler's, no IP, no container state) and is scheduled when room
appears; only a container that started can crash-loop."""
from twin.controllers import Controllers
from twin.model import Physics
from twin.store import Store

START = 1795835842.0


class _Cluster:
    def __init__(self) -> None:
        self.t = START
        self.store = Store(now_fn=lambda: self.t, seed=3)
        self.ctl = Controllers(self.store, now_fn=lambda: self.t, start_pods=False)
        self.physics = Physics(None, self.store, onset=START)

    def node(self, name: str, memory: str = "2Gi") -> None:
        cap = {"cpu": "4", "memory": memory, "pods": "110"}
        self.store.create("nodes", {"metadata": {"name": name}, "spec": {}, "status": {
            "capacity": cap, "allocatable": dict(cap),
            "conditions": [{"type": "Ready", "status": "True"}]}})

    def steps(self, n: int = 1) -> None:
        for _ in range(n):
            self.t += 15
            self.ctl.step()
            self.physics.step(self.t, 15)

    def pods(self):
        return self.store.list("pods", "prod")[0]


def _deployment(replicas: int, memory: str = "1Gi"):
    return {"metadata": {"name": "web", "namespace": "prod"}, "spec": {
        "replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{
            "name": "web", "image": "registry.local/web:v1",
            "resources": {"requests": {"cpu": "100m", "memory": memory}}}]}}}}


def _cond(pod, ctype):
    return next((c for c in pod["status"].get("conditions") or [] if c["type"] == ctype), None)


def test_unschedulable_pod_stays_pending_then_schedules_on_uncordon():
    c = _Cluster()
    c.node("node-a")
    c.node("node-b")
    c.store.mutate("nodes", None, "node-b", lambda n: n["spec"].__setitem__(
        "unschedulable", True))
    c.store.create("deployments", _deployment(3))
    c.steps(4)
    pods = c.pods()
    running = [p for p in pods if p["spec"].get("nodeName")]
    pending = [p for p in pods if not p["spec"].get("nodeName")]
    assert len(running) == 2 and len(pending) == 1
    assert all(p["status"]["phase"] == "Running" for p in running)
    stuck = pending[0]
    assert stuck["status"]["phase"] == "Pending"
    assert "podIP" not in stuck["status"] and "containerStatuses" not in stuck["status"]
    cond = _cond(stuck, "PodScheduled")
    assert cond["status"] == "False" and cond["reason"] == "Unschedulable"
    assert cond["message"] == (
        "0/2 nodes are available: 1 Insufficient memory, 1 node(s) were unschedulable. "
        "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming "
        "pod, 1 Preemption is not helpful for scheduling.")
    events = c.store.list("events", "prod", field_selector="reason=FailedScheduling")[0]
    assert [e["involvedObject"]["name"] for e in events] == [stuck["metadata"]["name"]]
    assert events[0]["type"] == "Warning" and events[0]["message"] == cond["message"]
    c.store.mutate("nodes", None, "node-b", lambda n: n["spec"].__setitem__(
        "unschedulable", False))
    c.steps(2)
    now = c.store.get("pods", "prod", stuck["metadata"]["name"])
    assert now["spec"]["nodeName"] == "node-b"
    assert now["status"]["phase"] == "Running" and now["status"]["podIP"]
    assert _cond(now, "PodScheduled")["status"] == "True"


def test_pending_pod_schedules_when_a_node_is_added():
    c = _Cluster()
    c.node("node-a", memory="1536Mi")
    c.store.create("deployments", _deployment(2))
    c.steps(3)
    assert sorted(bool(p["spec"].get("nodeName")) for p in c.pods()) == [False, True]
    c.node("node-new")
    c.steps(2)
    assert all(p["spec"].get("nodeName") and p["status"]["phase"] == "Running"
               for p in c.pods())


def test_no_crash_loop_state_for_a_container_that_never_started():
    c = _Cluster()
    c.node("node-a", memory="512Mi")
    c.store.create("deployments", _deployment(1))
    c.steps(6)
    (pod,) = c.pods()
    assert pod["status"]["phase"] == "Pending"
    assert "containerStatuses" not in pod["status"]
    assert c.physics.pods[pod["metadata"]["uid"]].restarts == 0

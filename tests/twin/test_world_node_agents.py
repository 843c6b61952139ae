"""Scenario worlds run node agents (DaemonSets) on every node, pods drained from a node go
through Terminating, and a pod left unscheduled by a drain is Pending, never Running."""
import pytest

from twin import controllers as ctl
from twin.world import World


@pytest.fixture()
def world():
    w = World.from_scenario("seed-0317-memory-leak", start_prometheus=False, start_nats=False)
    w.start()
    yield w
    w.stop()


def test_daemonset_pods_on_every_node_and_running(world):
    nodes = [n["metadata"]["name"] for n in world.store.list("nodes")[0]]
    for ns, name in (("kube-system", "kube-proxy"), ("monitoring", "node-exporter")):
        pods = world.store.list("pods", ns, label_selector="app=%s" % name)[0]
        assert sorted(p["spec"]["nodeName"] for p in pods) == sorted(nodes)
        assert all(p["status"]["phase"] == "Running" for p in pods)
        ds = world.store.get("daemonsets", ns, name)
        assert ds["status"]["numberReady"] == len(nodes)


def test_drained_node_keeps_its_agents_and_unplaceable_pods_stay_pending(world):
    nodes = sorted(n["metadata"]["name"] for n in world.store.list("nodes")[0])
    for name in nodes[1:]:  # leave one node schedulable, then drain it too
        world.store.mutate("nodes", None, name,
                           lambda o: o["spec"].__setitem__("unschedulable", True))
    world._event_drain({"node": nodes[0]})
    terminating = world.store.terminating("pods")
    assert terminating and all(p["spec"]["nodeName"] == nodes[0] for p in terminating)
    world.advance_seconds(60)
    left = world.store.pods_on_node(nodes[0])
    assert {(p["metadata"].get("ownerReferences") or [{}])[0].get("kind") for p in left} == {
        "DaemonSet"}
    pending = world.store.pods_on_node("")
    assert pending
    for pod in pending:
        st = pod["status"]
        assert st["phase"] == "Pending" and "podIP" not in st and "containerStatuses" not in st
        cond = ctl._cond(pod, "PodScheduled")
        assert cond["status"] == "False" and cond["reason"] == "Unschedulable"
        assert "node(s) were unschedulable" in cond["message"]

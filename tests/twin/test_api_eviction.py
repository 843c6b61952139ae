"""Eviction API with PodDisruptionBudgets, rescheduling, and the scheduler's respect for cordons
(only through the official client)."""
import pytest
from api_harness import deployment, node, running
from kubernetes.client.rest import ApiException


@pytest.fixture
def twin(tmp_path):
    yield from running(str(tmp_path), ("node-a", "node-b", "node-c"))


def _pods(t, ns="prod", **kw):
    return t.admin.core.list_namespaced_pod(ns, **kw).items


def _eviction(name, ns="prod"):
    return {"apiVersion": "policy/v1", "kind": "Eviction",
            "metadata": {"name": name, "namespace": ns}}


def _budgeted_web(twin, replicas, **budget):
    """Deployment prod/web with `replicas` running pods under a PodDisruptionBudget `budget`
    (minAvailable= or maxUnavailable=)."""
    twin.admin.apps.create_namespaced_deployment("prod", deployment("web", replicas=replicas))
    twin.admin.policy.create_namespaced_pod_disruption_budget("prod", {
        "metadata": {"name": "web"},
        "spec": dict(budget, selector={"matchLabels": {"app": "web"}})})
    twin.steps(3)


def test_eviction_refused_with_429_when_pdb_allows_no_disruption(twin):
    _budgeted_web(twin, 2, minAvailable=2)
    pods = _pods(twin)
    assert len(pods) == 2 and all(p.status.phase == "Running" for p in pods)
    pdb = twin.admin.policy.read_namespaced_pod_disruption_budget_status("web", "prod")
    assert pdb.status.disruptions_allowed == 0 and pdb.status.current_healthy == 2

    with pytest.raises(ApiException) as exc:
        twin.sa.core.create_namespaced_pod_eviction(pods[0].metadata.name, "prod",
                                                    _eviction(pods[0].metadata.name))
    assert exc.value.status == 429
    assert "disruption budget" in exc.value.body
    assert len(_pods(twin)) == 2  # nothing was deleted


def test_eviction_spends_budget_then_429_until_replacement_ready(twin):
    _budgeted_web(twin, 3, maxUnavailable=1)
    first, second = [p.metadata.name for p in _pods(twin)][:2]
    twin.sa.core.create_namespaced_pod_eviction(first, "prod", _eviction(first))
    evicted = twin.admin.core.read_namespaced_pod(first, "prod")  # Terminating: still listed
    assert evicted.metadata.deletion_timestamp is not None
    assert evicted.metadata.deletion_grace_period_seconds == 30
    with pytest.raises(ApiException) as exc:
        twin.sa.core.create_namespaced_pod_eviction(second, "prod", _eviction(second))
    assert exc.value.status == 429
    twin.steps(2)  # the kubelet confirms; the ReplicaSet's replacement becomes Ready
    assert first not in [p.metadata.name for p in _pods(twin)]
    assert len(_pods(twin)) == 3
    twin.sa.core.create_namespaced_pod_eviction(second, "prod", _eviction(second))
    twin.steps(1)
    assert second not in [p.metadata.name for p in _pods(twin)]


def test_evicted_pod_is_recreated_on_another_node_never_the_cordoned_one(twin):
    twin.admin.apps.create_namespaced_deployment("prod", deployment("web", replicas=6))
    twin.steps(3)
    on_a = _pods(twin, field_selector="spec.nodeName=node-a")
    assert on_a, "the scheduler spreads pods over all three nodes"
    twin.sa.core.patch_node("node-a", {"spec": {"unschedulable": True}})
    for p in on_a:
        twin.sa.core.create_namespaced_pod_eviction(p.metadata.name, "prod",
                                                    _eviction(p.metadata.name))
    twin.steps(3)
    pods = _pods(twin)
    assert len(pods) == 6
    assert all(p.status.phase == "Running" for p in pods)
    assert {p.spec.node_name for p in pods} <= {"node-b", "node-c"}
    assert not _pods(twin, field_selector="spec.nodeName=node-a")
    old_names = {p.metadata.name for p in on_a}
    assert not old_names & {p.metadata.name for p in pods}


def test_scheduler_never_binds_to_cordoned_or_full_nodes(twin):
    for name in ("node-a", "node-b"):
        twin.admin.core.patch_node(name, {"spec": {"unschedulable": True}})
    twin.admin.apps.create_namespaced_deployment(
        "prod", deployment("big", replicas=5, cpu="1500m", memory="1Gi"))
    twin.steps(3)
    pods = _pods(twin)
    assert len(pods) == 5
    bound = [p for p in pods if p.spec.node_name]
    assert {p.spec.node_name for p in bound} == {"node-c"}
    assert len(bound) == 2  # 4 CPUs allocatable, 1.5 requested each
    pending = [p for p in pods if not p.spec.node_name]
    cond = [c for c in pending[0].status.conditions if c.type == "PodScheduled"][0]
    assert cond.status == "False" and cond.reason == "Unschedulable"
    events = twin.admin.core.list_namespaced_event(
        "prod", field_selector="reason=FailedScheduling").items
    assert len(events) == 3
    twin.admin.core.patch_node("node-b", {"spec": {"unschedulable": False}})
    twin.steps(2)
    bound = [p.spec.node_name for p in _pods(twin) if p.spec.node_name]
    assert sorted(bound) == ["node-b", "node-b", "node-c", "node-c"]  # one still does not fit


def test_not_ready_node_gets_no_pods(twin):
    twin.admin.core.create_node(node("node-d", ready=False))
    twin.admin.apps.create_namespaced_deployment("prod", deployment("web", replicas=9))
    twin.steps(3)
    assert not _pods(twin, field_selector="spec.nodeName=node-d")
    assert len(_pods(twin, field_selector="status.phase=Running")) == 9


def test_node_lifecycle_taints_and_evicts_after_toleration(twin):
    twin.ctl.node_lifecycle_enabled = True
    twin.admin.apps.create_namespaced_deployment("prod", deployment("web", replicas=6))
    twin.steps(3)
    twin.admin.core.patch_node("node-c", {"spec": {"unschedulable": True}})
    twin.steps(1)
    taints = twin.admin.core.read_node("node-c").spec.taints
    assert [(t.key, t.effect) for t in taints] == [("node.kubernetes.io/unschedulable",
                                                    "NoSchedule")]
    twin.admin.core.patch_node("node-c", {"spec": {"unschedulable": False}})
    on_a = {p.metadata.name for p in _pods(twin, field_selector="spec.nodeName=node-a")}
    assert on_a
    twin.admin.core.patch_node_status("node-a", {"status": {"conditions": [
        {"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown"}]}})
    twin.steps(1)
    node_a = twin.admin.core.read_node("node-a")
    assert [(t.key, t.effect) for t in node_a.spec.taints] == [
        ("node.kubernetes.io/unreachable", "NoExecute")]
    assert twin.admin.core.read_node("node-c").spec.taints is None
    twin.steps(18)  # 270 s: still within the default 300 s toleration
    assert {p.metadata.name for p in _pods(twin, field_selector="spec.nodeName=node-a")} == on_a
    twin.steps(4)
    stuck = _pods(twin, field_selector="spec.nodeName=node-a")
    # nobody on the unreachable node confirms: the evicted pods stay Terminating there
    assert {p.metadata.name for p in stuck} == on_a
    assert all(p.metadata.deletion_timestamp is not None for p in stuck)
    pods = [p for p in _pods(twin) if p.metadata.deletion_timestamp is None]
    assert len(pods) == 6 and all(p.spec.node_name in ("node-b", "node-c") for p in pods)
    twin.admin.core.delete_node("node-a")  # pod GC removes pods of a node that is gone
    twin.steps(1)
    assert not _pods(twin, field_selector="spec.nodeName=node-a")


def test_unhealthy_pods_follow_if_healthy_budget(twin):
    _budgeted_web(twin, 3, minAvailable=2)
    a, b, _c = [p.metadata.name for p in _pods(twin)]
    for name in (a, b):  # two of three turn unready: the budget is not met
        twin.admin.core.patch_namespaced_pod_status(name, "prod", {"status": {"conditions": [
            {"type": "Ready", "status": "False"}]}})
    with pytest.raises(ApiException) as exc:
        twin.sa.core.create_namespaced_pod_eviction(a, "prod", _eviction(a))
    assert exc.value.status == 429
    twin.admin.policy.patch_namespaced_pod_disruption_budget(
        "web", "prod", {"spec": {"unhealthyPodEvictionPolicy": "AlwaysAllow"}})
    twin.sa.core.create_namespaced_pod_eviction(a, "prod", _eviction(a))
    assert twin.admin.core.read_namespaced_pod(a, "prod").metadata.deletion_timestamp
    twin.steps(1)
    assert a not in [p.metadata.name for p in _pods(twin)]

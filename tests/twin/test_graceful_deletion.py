"""Graceful deletion, finalizers, DaemonSets and mirror pods on the twin (official client)."""
import pytest
from api_harness import deployment, node, running
from kubernetes.client.rest import ApiException

from twin.controllers import SHUTDOWN_ANNOTATION


@pytest.fixture
def twin(tmp_path):
    yield from running(str(tmp_path))


def _slow(name, replicas, shutdown_s):
    dep = deployment(name, replicas=replicas)
    dep["spec"]["template"]["metadata"]["annotations"] = {SHUTDOWN_ANNOTATION: str(shutdown_s)}
    return dep


def _names(t, ns="prod"):
    return {p.metadata.name for p in t.admin.core.list_namespaced_pod(ns).items}


def test_deleted_pod_terminates_for_its_grace_period_on_the_virtual_clock(twin):
    twin.admin.apps.create_namespaced_deployment("prod", _slow("web", 1, 600))
    twin.steps(2)
    (name,) = _names(twin)
    gone = twin.admin.core.delete_namespaced_pod(name, "prod")
    assert gone.metadata.deletion_timestamp is not None
    assert gone.metadata.deletion_grace_period_seconds == 30
    twin.steps(1)  # 15 s: still Terminating, and the ReplicaSet has made its replacement
    pods = {p.metadata.name: p for p in twin.admin.core.list_namespaced_pod("prod").items}
    assert name in pods and len(pods) == 2
    twin.steps(1)  # 30 s: the grace period is over, the kubelet kills and confirms
    assert name not in _names(twin)


def test_shorter_grace_and_grace_zero(twin):
    twin.admin.apps.create_namespaced_deployment("prod", _slow("web", 2, 600))
    twin.steps(2)
    a, b = sorted(_names(twin))
    twin.admin.core.delete_namespaced_pod(a, "prod", grace_period_seconds=120)
    again = twin.admin.core.delete_namespaced_pod(a, "prod", grace_period_seconds=10)
    assert again.metadata.deletion_grace_period_seconds == 10
    twin.admin.core.delete_namespaced_pod(b, "prod", grace_period_seconds=0)
    assert b not in _names(twin)  # force: gone at once
    twin.steps(1)
    assert a not in _names(twin)


def test_default_shutdown_is_quick_and_unbound_pods_go_at_once(twin):
    twin.admin.core.create_namespaced_pod("prod", {"metadata": {"name": "loose"}, "spec": {
        "nodeName": "node-a", "containers": [{"name": "c", "image": "busybox"}]}})
    twin.admin.core.create_namespaced_pod("prod", {"metadata": {"name": "unbound"}, "spec": {
        "schedulerName": "none", "containers": [{"name": "c", "image": "busybox"}]}})
    twin.steps(1)
    twin.admin.core.delete_namespaced_pod("unbound", "prod")
    assert "unbound" not in _names(twin)
    twin.admin.core.delete_namespaced_pod("loose", "prod")
    assert "loose" in _names(twin)
    twin.steps(1)
    assert "loose" not in _names(twin)


def test_finalizers_hold_the_object_until_removed(twin):
    twin.admin.core.create_namespaced_config_map("prod", {"metadata": {
        "name": "held", "finalizers": ["example.com/keep"]}, "data": {"a": "1"}})
    twin.admin.core.delete_namespaced_config_map("held", "prod")
    held = twin.admin.core.read_namespaced_config_map("held", "prod")
    assert held.metadata.deletion_timestamp is not None
    with pytest.raises(ApiException) as exc:
        twin.admin.core.patch_namespaced_config_map("held", "prod", {"metadata": {
            "finalizers": ["example.com/keep", "example.com/more"]}})
    assert exc.value.status == 422 and "no new finalizers" in exc.value.body
    twin.admin.core.patch_namespaced_config_map("held", "prod", {"metadata": {
        "finalizers": None}})
    with pytest.raises(ApiException) as exc:
        twin.admin.core.read_namespaced_config_map("held", "prod")
    assert exc.value.status == 404


def test_pod_finalizer_outlives_the_kubelet(twin):
    twin.admin.core.create_namespaced_pod("prod", {"metadata": {
        "name": "fin", "finalizers": ["example.com/audit"]}, "spec": {
        "nodeName": "node-a", "containers": [{"name": "c", "image": "busybox"}]}})
    twin.steps(1)
    twin.admin.core.delete_namespaced_pod("fin", "prod")
    twin.steps(3)
    pod = twin.admin.core.read_namespaced_pod("fin", "prod")
    assert pod.metadata.deletion_grace_period_seconds == 0  # kubelet done, finalizer stays
    twin.admin.core.patch_namespaced_pod("fin", "prod", {"metadata": {"finalizers": None}})
    assert "fin" not in _names(twin)


def _daemonset(name="node-exporter", ns="monitoring"):
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {
                         "containers": [{"name": name, "image": "prom/node-exporter:v1.8",
                                         "resources": {"requests": {"cpu": "10m",
                                                                    "memory": "32Mi"}}}]}}}}


def test_daemonset_runs_one_pod_per_node_even_cordoned(twin):
    twin.admin.core.patch_node("node-b", {"spec": {"unschedulable": True}})
    twin.admin.apps.create_namespaced_daemon_set("monitoring", _daemonset())
    twin.steps(2)
    pods = twin.admin.core.list_namespaced_pod("monitoring").items
    assert sorted(p.spec.node_name for p in pods) == ["node-a", "node-b"]
    assert all(p.metadata.owner_references[0].kind == "DaemonSet" for p in pods)
    assert all(p.status.phase == "Running" for p in pods)
    twin.admin.core.create_node(node("node-c"))
    twin.steps(2)
    ds = twin.admin.apps.read_namespaced_daemon_set("node-exporter", "monitoring")
    assert ds.status.desired_number_scheduled == 3 and ds.status.number_ready == 3
    twin.admin.core.delete_node("node-c")
    twin.steps(2)
    pods = twin.admin.core.list_namespaced_pod("monitoring").items
    assert sorted(p.spec.node_name for p in pods) == ["node-a", "node-b"]


def test_control_plane_node_has_mirror_pods_that_come_back(twin):
    cp = node("cp-1")
    cp["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] = ""
    cp["spec"]["taints"] = [{"key": "node-role.kubernetes.io/control-plane",
                             "effect": "NoSchedule"}]
    twin.admin.core.create_node(cp)
    twin.steps(1)
    pods = twin.admin.core.list_namespaced_pod(
        "kube-system", field_selector="spec.nodeName=cp-1").items
    assert sorted(p.metadata.name for p in pods) == [
        "etcd-cp-1", "kube-apiserver-cp-1", "kube-controller-manager-cp-1",
        "kube-scheduler-cp-1"]
    assert all("kubernetes.io/config.mirror" in p.metadata.annotations for p in pods)
    assert pods[0].metadata.owner_references[0].kind == "Node"
    twin.admin.core.delete_namespaced_pod("etcd-cp-1", "kube-system", grace_period_seconds=0)
    twin.steps(1)
    assert twin.admin.core.read_namespaced_pod("etcd-cp-1", "kube-system").spec.node_name

"""Remediations act on the world only through cluster state, via the official client."""
import pytest
from kubernetes import client, config
from world_harness import world_after_onset



def api_clients(world):
    api = config.new_client_from_config(config_file=world.admin_kubeconfig_path)
    return client.AppsV1Api(api), client.CoreV1Api(api), client.CustomObjectsApi(api)


def rollout_undo(apps, namespace, name):
    """What `kubectl rollout undo` does: copy the previous revision's template."""
    dep = apps.read_namespaced_deployment(name, namespace)
    rss = apps.list_namespaced_replica_set(namespace, label_selector="app=" + name).items
    by_rev = sorted(rss, key=lambda rs: int(rs.metadata.annotations[
        "deployment.kubernetes.io/revision"]))
    current = int(dep.metadata.annotations["deployment.kubernetes.io/revision"])
    previous = [rs for rs in by_rev if int(rs.metadata.annotations[
        "deployment.kubernetes.io/revision"]) < current][-1]
    template = previous.spec.template
    template.metadata.labels.pop("pod-template-hash", None)
    apps.patch_namespaced_deployment(name, namespace, {"spec": {"template": template}})


@pytest.fixture()
def seed_world():
    with world_after_onset("seed-0317-memory-leak", 0) as world:
        yield world


def test_cordon_and_rollback_relieve_the_node(seed_world):
    world = seed_world
    apps, core, _ = api_clients(world)
    node = "gke-prod-pool-1-abc123"
    core.patch_node(node, {"spec": {"unschedulable": True}})
    rollout_undo(apps, "production", "analytics-worker")
    world.advance_seconds(150)  # v1.4.1 takes 60 s to become Ready: one pod replaced so far
    assert 70 < world.key_metric_value() < 80
    world.advance_seconds(300)
    pods = core.list_namespaced_pod("production", label_selector="app=analytics-worker").items
    images = {p.spec.containers[0].image for p in pods}
    assert images == {"registry.local/analytics-worker:v1.4.1"}
    assert all(p.spec.node_name != node for p in pods)
    assert world.key_metric_value() < 75
    before = [st.mem for st in world.physics.pods.values() if st.service == "analytics-worker"]
    world.advance_seconds(600)
    after = [st.mem for st in world.physics.pods.values() if st.service == "analytics-worker"]
    assert max(after) < max(before) * 1.02  # v1.4.1 does not leak


def test_without_remediation_the_leak_continues(seed_world):
    world = seed_world
    start = world.key_metric_value()
    world.advance_seconds(120)
    assert world.key_metric_value() > start + 3


def test_bigger_pool_configmap_relieves_exhaustion():
    with world_after_onset("connection-pool-exhaustion", 300) as world:
        view = world.physics.snapshot["services"]["orders-api"]
        assert max(p[2] for p in view["pool"]) >= 1  # pending connections
        _, core, _ = api_clients(world)
        core.patch_namespaced_config_map("orders-api-db-pool", "production",
                                         {"data": {"maximumPoolSize": "30"}})
        world.advance_seconds(60)
        view = world.physics.snapshot["services"]["orders-api"]
        assert max(p[2] for p in view["pool"]) == 0
        assert view["pool_util"] < 0.9


def test_circuit_breaker_sheds_upstream_slowness():
    with world_after_onset("cascading-slowdown-abc", 300) as world:
        slow_c = world.physics.snapshot["services"]["svc-c"]["p99"]
        _, _, custom = api_clients(world)
        other = {"apiVersion": "networking.istio.io/v1beta1", "kind": "DestinationRule",
                 "metadata": {"name": "unrelated"},
                 "spec": {"host": "svc-a.production.svc.cluster.local",
                          "workloadSelector": {"matchLabels": {"app": "svc-x"}},
                          "trafficPolicy": {"outlierDetection": {"consecutive5xxErrors": 3}}}}
        custom.create_namespaced_custom_object("networking.istio.io", "v1beta1", "production",
                                               "destinationrules", other)
        world.advance_seconds(30)
        assert world.physics.snapshot["services"]["svc-c"]["p99"] > slow_c * 0.9
        custom.create_namespaced_custom_object(
            "networking.istio.io", "v1beta1", "production", "destinationrules",
            {"apiVersion": "networking.istio.io/v1beta1", "kind": "DestinationRule",
             "metadata": {"name": "svc-b-to-svc-a"},
             "spec": {"host": "svc-a.production.svc.cluster.local",
                      "workloadSelector": {"matchLabels": {"app": "svc-b"}},
                      "trafficPolicy": {
                 "outlierDetection": {"consecutive5xxErrors": 3, "interval": "5s",
                                      "baseEjectionTime": "30s"}}}})
        world.advance_seconds(30)
        services = world.physics.snapshot["services"]
        assert services["svc-c"]["p99"] < slow_c / 2
        assert services["svc-a"]["p99"] > 300  # the root itself stays slow


def test_bad_deploy_crash_loops_with_backoff_logs_and_events():
    with world_after_onset("crash-loop-bad-deploy", 600) as world:
        _, core, _ = api_clients(world)
        pods = core.list_namespaced_pod("production", label_selector="app=catalog").items
        bad = [p for p in pods if p.spec.containers[0].image.endswith(":v2.4.0")]
        good = [p for p in pods if p.spec.containers[0].image.endswith(":v2.3.1")]
        assert bad and good  # the rollout is stuck: old pods keep serving
        status = bad[0].status.container_statuses[0]
        assert status.restart_count > 5
        assert status.last_state.terminated.exit_code == 2
        assert status.last_state.terminated.reason == "Error"
        if status.state.waiting:
            assert status.state.waiting.reason == "CrashLoopBackOff"
        previous = core.read_namespaced_pod_log(bad[0].metadata.name, "production",
                                                previous=True)
        assert "panic: runtime error" in previous
        events = core.list_namespaced_event(
            "production", field_selector=f"involvedObject.name={bad[0].metadata.name}").items
        assert any(e.reason == "BackOff" and e.type == "Warning" for e in events)
        # back-off grows: restarts in the last 5 minutes are fewer than in the first 5
        restarts = bad[0].status.container_statuses[0].restart_count
        world.advance_seconds(300)
        later = core.read_namespaced_pod(bad[0].metadata.name, "production")
        assert later.status.container_statuses[0].restart_count - restarts <= 3


def test_bigger_node_pool_adds_a_ready_node_with_metrics():
    with world_after_onset("node-memory-pressure") as world:
        _, core, custom = api_clients(world)
        custom.patch_namespaced_custom_object_scale(
            "cluster.x-k8s.io", "v1beta1", "default", "machinedeployments", "prod-pool-1",
            {"spec": {"replicas": 4}})
        world.advance_seconds(30)
        assert len(core.list_node().items) == 3  # still provisioning
        world.advance_seconds(150)
        nodes = core.list_node(label_selector="node-pool=prod-pool-1").items
        assert len(nodes) == 4
        new = [n for n in nodes if n.metadata.name not in
               {spec["name"] for spec in world.scenario.nodes}][0]
        ready = {c.type: c.status for c in new.status.conditions}
        assert ready["Ready"] == "True" and ready["MemoryPressure"] == "False"
        world.advance_seconds(15)
        assert world.physics.snapshot_nodes[new.metadata.name]["mem_pct"] < 20

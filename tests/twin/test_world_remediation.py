"""Remediations act on the world only through cluster state, via the official client."""
import pytest
from kubernetes import client, config

from twin.world import World


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
    world = World.from_scenario("seed-0317-memory-leak", start_prometheus=False,
                                start_nats=False)
    world.start()
    world.run_until(world.onset_epoch)
    yield world
    world.stop()


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
    world = World.from_scenario("connection-pool-exhaustion", start_prometheus=False,
                                start_nats=False)
    try:
        world.start()
        world.run_until(world.onset_epoch + 300)
        view = world.physics.snapshot["services"]["orders-api"]
        assert max(p[2] for p in view["pool"]) >= 1  # pending connections
        _, core, _ = api_clients(world)
        core.patch_namespaced_config_map("orders-api-db-pool", "production",
                                         {"data": {"maximumPoolSize": "30"}})
        world.advance_seconds(60)
        view = world.physics.snapshot["services"]["orders-api"]
        assert max(p[2] for p in view["pool"]) == 0
        assert view["pool_util"] < 0.9
    finally:
        world.stop()


def test_circuit_breaker_sheds_upstream_slowness():
    world = World.from_scenario("cascading-slowdown-abc", start_prometheus=False,
                                start_nats=False)
    try:
        world.start()
        world.run_until(world.onset_epoch + 300)
        slow_c = world.physics.snapshot["services"]["svc-c"]["p99"]
        _, _, custom = api_clients(world)
        custom.create_namespaced_custom_object(
            "networking.istio.io", "v1beta1", "production", "destinationrules",
            {"apiVersion": "networking.istio.io/v1beta1", "kind": "DestinationRule",
             "metadata": {"name": "svc-b-to-svc-a"},
             "spec": {"host": "svc-a.production.svc.cluster.local", "trafficPolicy": {
                 "outlierDetection": {"consecutive5xxErrors": 3, "interval": "5s",
                                      "baseEjectionTime": "30s"}}}})
        world.advance_seconds(30)
        services = world.physics.snapshot["services"]
        assert services["svc-c"]["p99"] < slow_c / 2
        assert services["svc-a"]["p99"] > 300  # the root itself stays slow
    finally:
        world.stop()

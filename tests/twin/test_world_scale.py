"""World.synthetic builds a uniform cluster quickly and feeds Prometheus (small sizes here;
the figures for big ones come from `make bench-scale`)."""
import json
import urllib.parse
import urllib.request

from twin.world import World


def query(world, expr):
    url = world.prometheus_direct_url + "/api/v1/query?" + urllib.parse.urlencode(
        {"query": expr, "time": world.clock.now()})
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())["data"]["result"]


def test_synthetic_world_binds_every_pod_and_writes_lean_series():
    world = World.synthetic(nodes=12, pods_per_node=10, start_nats=False)
    try:
        world.start()
        for _ in range(3):
            world.step()
        pods, _ = world.store.list("pods")
        assert len(pods) == 120
        per_node = {}
        for pod in pods:
            assert pod["status"]["phase"] == "Running"
            per_node[pod["spec"]["nodeName"]] = per_node.get(pod["spec"]["nodeName"], 0) + 1
        assert sorted(per_node.values()) == [10] * 12
        assert query(world, "count(container_memory_working_set_bytes)")[0]["value"][1] == "120"
        assert query(world, "count(kube_pod_info)")[0]["value"][1] == "120"
        assert query(world, "count(node_memory_MemAvailable_bytes)")[0]["value"][1] == "12"
        assert query(world, "container_cpu_cfs_periods_total") == []  # lean
        leak = query(world, 'deriv(container_memory_working_set_bytes{'
                            'container="svc-00000"}[1m])')
        assert leak and all(float(r["value"][1]) > 0 for r in leak)
    finally:
        world.stop()

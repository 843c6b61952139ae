"""Dependency graph: the three sources, closures, paths, and a failing source skipped."""
from types import SimpleNamespace

from lib import dependency_graph
from lib.config import load_settings
from lib.diagnosis_facts import _as_dicts, guess_service
from lib.prom import Sample


def istio(*edges):
    return [{"metric": {"source_workload": s, "destination_workload": d}, "value": [0, "1"]}
            for s, d in edges]


def test_sources_merge_and_are_remembered():
    graph = dependency_graph.build({"c": ["b"]}, {"b": "a, x"},
                                   [("c", "b"), ("gw", "c"), ("c", "c")])
    assert graph.upstreams("c") == ["b"] and graph.upstreams("b") == ["a", "x"]
    assert graph.sources[("c", "b")] == {"config", "traffic"}
    assert graph.upstream_closure("gw") == {"c", "b", "a", "x"}
    assert graph.downstream_closure("a") == {"b", "c", "gw"}
    assert graph.path("gw", "a") == ["gw", "c", "b", "a"]
    assert graph.path("a", "gw") == []
    assert graph.connected("a", "gw") and not graph.connected("x", "zzz")


def test_traffic_edges_from_istio_requests():
    query = _as_dicts(lambda q: [Sample({"source_workload": "web",
                                         "destination_workload": "api"}, 3.0, 0.0),
                                 Sample({"source_workload": "unknown",
                                         "destination_workload": "api"}, 1.0, 0.0)])
    assert dependency_graph.traffic_edges(query) == [("web", "api")]
    assert dependency_graph.traffic_edges(lambda q: istio(("a", "b"), ("a", "b"))) == [
        ("a", "b")]


def test_load_skips_a_failing_source():
    settings = load_settings({"dependencies": {"web": ["api"]}}, environ={})

    def broken(_query):
        raise RuntimeError("prometheus down")

    deployments = [SimpleNamespace(metadata=SimpleNamespace(
        name="api", annotations={dependency_graph.DEPENDS_ON: "db"}))]
    kube = SimpleNamespace(
        apps=SimpleNamespace(list_deployment_for_all_namespaces=lambda: None),
        call=lambda fn, *a, **k: SimpleNamespace(items=deployments))
    graph = dependency_graph.load(settings, kube, broken)
    assert graph.edges() == [("api", "db"), ("web", "api")]


def test_guess_service_from_pod_names():
    assert guess_service("analytics-worker-7f8d9c5b6-x2x4z") == "analytics-worker"
    assert guess_service("analytics-worker-7f8d9") == "analytics-worker"

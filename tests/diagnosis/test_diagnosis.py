"""Diagnosis rules: the seed's incident, cascades, joining, changes, attribution."""
import pytest

from lib import clock, diagnosis
from support.diagnosis_fakes import GB, FakeFacts, linear, revisions, signal
from support.healing_fakes import T0, FixedClock

NODE = "gke-prod-pool-1-abc123"
NS = "production"


@pytest.fixture(autouse=True)
def fixed_clock():
    FixedClock(T0 + 1).install()
    yield
    clock.reset()


def seed_facts(linear_growth=True, deployed_min_before=47, with_leak_pod_share=3.2):
    deploy_at = T0 - deployed_min_before * 60
    if linear_growth:
        series = linear(deploy_at, T0, 1.1 * GB, with_leak_pod_share * GB)
    else:
        series = [(deploy_at + i * 60, (2.0 + (0.4 if i % 2 else -0.4)) * GB)
                  for i in range(deployed_min_before)]
    return FakeFacts(
        deploys={(NS, "analytics-worker"): revisions((5, deploy_at, "v1.4.2"),
                                                      (4, T0 - 9 * 86400, "v1.4.1")),
                 (NS, "checkout"): revisions((12, T0 - 5 * 86400, "v3.0.0"))},
        pods={NODE: [
            {"namespace": NS, "pod": "analytics-worker-7f8d9", "service": "analytics-worker",
             "memory_bytes": with_leak_pod_share * GB, "limit_bytes": 4 * GB},
            {"namespace": NS, "pod": "checkout-5c9d7", "service": "checkout",
             "memory_bytes": 0.4 * GB, "limit_bytes": 1 * GB},
            {"namespace": "kube-system", "pod": "kube-proxy-x1", "service": "kube-proxy",
             "memory_bytes": 0.1 * GB, "limit_bytes": None}]},
        node_totals={NODE: 4.1 * GB},
        series={(NS, "analytics-worker-7f8d9"): series})


def seed_signal():
    return signal("memory_pressure", "Node", NODE, T0, node=NODE, severity="high",
                  summary="memory pressure on node %s: 91%% (+2.0%%/min), exhaustion in 4.5 min"
                  % NODE, metadata={"utilization_pct": 91, "growth_pct_per_min": 2.0,
                                    "minutes_to_exhaustion": 4.5})


def test_seed_incident_root_is_the_leak_not_the_node():
    result = diagnosis.diagnose(seed_signal(), seed_facts(), [], [])
    assert result["joined"] is False
    root = result["root_cause"]
    assert root["summary"] == "memory leak in analytics-worker v1.4.2"
    assert root["target"] == {"kind": "Pod", "namespace": NS, "name": "analytics-worker-7f8d9",
                              "node": NODE}
    assert root["synthetic"] is True
    assert result["playbook"] == "memory_pressure_node"
    params = result["playbook_params"]
    assert (params["node"], params["deployment"], params["namespace"]) == (
        NODE, "analytics-worker", NS)
    assert (params["version"], params["previous_version"]) == ("v1.4.2", "v1.4.1")
    assert params["recent_deploy"] is True and params["deployed_minutes_before_onset"] == 47
    text = " | ".join(result["reasoning"])
    assert "analytics-worker v1.4.2 deployed 47 min before onset (previous v1.4.1)" in text
    assert "memory grew linearly since the deploy" in text
    assert "78% of the node's memory" in text
    assert "3.2 GB of its 4 GB limit" in text
    assert "the node's pressure signal came later (03:17:22, 47 min after the deploy)" in text
    assert result["summary"] == (
        "top consumer analytics-worker-7f8d9 (3.2 GB of its 4 GB limit); recent deploy "
        "analytics-worker v1.4.2, 47 minutes earlier; linear memory growth since the deploy "
        "(likely a leak in v1.4.2)")
    assert result["severity"] == "high"
    assert result["affected_services"] == ["analytics-worker"]
    assert result["confidence"] >= 0.9
    assert NODE in result["nodes"]
    assert result["onset"] == "2026-11-28T03:17:22Z"


def test_node_pressure_without_growth_or_deploy_stays_on_the_node():
    facts = seed_facts(linear_growth=False, deployed_min_before=300)
    result = diagnosis.diagnose(seed_signal(), facts, [], [])
    assert result["root_cause"]["detector"] == "memory_pressure"
    assert result["playbook"] == "memory_pressure_node"
    assert result["playbook_params"]["pod"] == "analytics-worker-7f8d9"
    assert result["playbook_params"]["recent_deploy"] is False
    assert "did not keep growing" in " ".join(result["reasoning"])
    assert result["confidence"] < 0.8


def test_resource_attribution_prefers_an_existing_leak_signal():
    leak = signal("memory_leak", "Pod", "analytics-worker-7f8d9", T0 - 600, namespace=NS,
                  service="analytics-worker", node=NODE, summary="leak in analytics-worker")
    result = diagnosis.diagnose(seed_signal(), seed_facts(), [leak], [])
    assert result["root_cause"]["signal_id"] == leak["signal_id"]
    assert result["signals"] == [leak["signal_id"], seed_signal()["signal_id"]]
    assert result["playbook"] == "memory_pressure_node"


def test_no_dominant_consumer_keeps_the_node():
    facts = seed_facts()
    facts.pods[NODE] = [
        {"namespace": NS, "pod": "a-1", "service": "a", "memory_bytes": 1.0 * GB},
        {"namespace": NS, "pod": "b-1", "service": "b", "memory_bytes": 0.9 * GB}]
    facts.node_totals[NODE] = 16 * GB
    result = diagnosis.diagnose(seed_signal(), facts, [], [])
    assert result["root_cause"]["detector"] == "memory_pressure"
    assert "no dominant memory consumer" in " ".join(result["reasoning"])


def cascade_facts(**graph_source):
    return FakeFacts(deploys={(NS, s): revisions((1, T0 - 30 * 86400, "v1"))
                              for s in ("a", "b", "c")}, **graph_source)


@pytest.mark.parametrize("source", [
    {"dependencies": {"c": ["b"], "b": ["a"]}},
    {"annotations": {"c": "b", "b": "a,unrelated"}},
    {"traffic": [("c", "b"), ("b", "a")]},
])
def test_cascade_a_b_c_root_is_a_even_when_detected_last(source):
    c_err = signal("error_rate", "Service", "c", T0 - 120, namespace=NS, service="c",
                   severity="medium")
    b_lat = signal("latency_anomaly", "Service", "b", T0 - 60, namespace=NS, service="b")
    a_pool = signal("connection_pool", "Service", "a", T0, namespace=NS, service="a",
                    severity="critical", summary="connection pool of a 100% used")
    result = diagnosis.diagnose(a_pool, cascade_facts(**source), [c_err, b_lat], [])
    assert result["root_cause"]["signal_id"] == a_pool["signal_id"]
    assert result["playbook"] == "connection_pool_exhaustion"
    assert result["affected_services"] == ["a", "b", "c"]
    assert result["severity"] == "critical"
    assert result["playbook_params"]["affected_dependents"] == ["b", "c"]
    assert result["playbook_params"]["dependents"] == ["b"]
    text = " | ".join(result["reasoning"])
    assert "error_rate of c is explained by upstream a (call path c -> b -> a)" in text
    assert "a is the most upstream degraded service" in text
    assert result["onset"] == clock.isoformat(T0 - 120)


def test_upstream_latency_with_downstream_symptoms_runs_cascade_protection():
    facts = cascade_facts(dependencies={"c": ["b"], "b": ["a"]})
    a_lat = signal("latency_anomaly", "Service", "a", T0 - 300, namespace=NS, service="a")
    c_err = signal("error_rate", "Service", "c", T0, namespace=NS, service="c")
    result = diagnosis.diagnose(c_err, facts, [a_lat], [])
    assert result["root_cause"]["signal_id"] == a_lat["signal_id"]
    assert result["playbook"] == "cascade_protection"


def test_symptom_of_open_incident_joins_it():
    facts = cascade_facts(dependencies={"c": ["b"], "b": ["a"]})
    incident = {"id": "inc-1", "status": "remediating", "playbook": "connection_pool_exhaustion",
                "signals": ["x"], "affected_services": ["a"], "targets": ["service.production.a"],
                "nodes": [], "root_cause": {"service": "a"}, "created_at": "2026-11-28T03:00:00Z"}
    c_err = signal("error_rate", "Service", "c", T0, namespace=NS, service="c")
    result = diagnosis.diagnose(c_err, facts, [], [incident])
    assert result["joined"] is True and result["incident_id"] == "inc-1"
    assert "c is downstream of the root service a (c -> b -> a)" in result["reasoning"][0]
    assert result["playbook"] == "connection_pool_exhaustion"


@pytest.mark.parametrize("field,value,why", [
    ("signals", ["memory_pressure.node._.%s.%d" % (NODE, int(T0))], "already part"),
    ("nodes", [NODE], "same node"),
    ("targets", ["node._.%s" % NODE], "same target"),
])
def test_join_reasons(field, value, why):
    incident = {"id": "inc-9", "status": "open", "signals": [], "nodes": [], "targets": [],
                "affected_services": [], "root_cause": {"detector": "memory_leak"}}
    incident[field] = value
    result = diagnosis.diagnose(seed_signal(), seed_facts(), [], [incident])
    assert result["joined"] is True and why in result["summary"]


def test_unrelated_open_incident_is_not_joined():
    incident = {"id": "inc-9", "status": "open", "signals": [], "nodes": ["other-node"],
                "targets": [], "affected_services": ["payments"], "root_cause": {}}
    result = diagnosis.diagnose(seed_signal(), seed_facts(), [], [incident])
    assert result["joined"] is False


def test_deploy_shortly_before_onset_picks_the_changed_service():
    facts = FakeFacts(deploys={
        (NS, "search"): revisions((7, T0 - 10 * 60, "v2.1.0"), (6, T0 - 20 * 86400, "v2.0.9")),
        (NS, "billing"): revisions((3, T0 - 40 * 86400, "v1.0.0"))})
    billing = signal("crash_loop", "Pod", "billing-6d5f-abcde", T0 - 120, namespace=NS,
                     service="billing", node="node-7")
    search = signal("crash_loop", "Pod", "search-77c9-fghij", T0, namespace=NS,
                    service="search", node="node-7")
    result = diagnosis.diagnose(search, facts, [billing], [])
    assert result["root_cause"]["signal_id"] == search["signal_id"]
    assert result["playbook"] == "pod_crash_loop"
    params = result["playbook_params"]
    assert params["recent_deploy"] is True and params["previous_version"] == "v2.0.9"
    text = " | ".join(result["reasoning"])
    assert "search v2.1.0 deployed 8 min before onset" in text
    assert "only affected service changed before onset" in text


def test_single_crash_loop_with_recent_deploy_recommends_rollback():
    facts = FakeFacts(deploys={(NS, "search"): revisions((7, T0 - 25 * 60, "v2.1.0"),
                                                         (6, T0 - 9 * 86400, "v2.0.9"))})
    crash = signal("crash_loop", "Pod", "search-77c9-fghij", T0, namespace=NS,
                   service="search")
    result = diagnosis.diagnose(crash, facts, [], [])
    assert result["root_cause"]["signal_id"] == crash["signal_id"]
    assert result["playbook_params"]["recent_deploy"] is True
    assert result["playbook_params"]["deployed_minutes_before_onset"] == 25


def test_old_deploy_is_not_a_change():
    facts = FakeFacts(deploys={(NS, "search"): revisions((7, T0 - 3 * 3600, "v2.1.0"),
                                                         (6, T0 - 9 * 86400, "v2.0.9"))})
    crash = signal("crash_loop", "Pod", "search-1", T0, namespace=NS, service="search")
    result = diagnosis.diagnose(crash, facts, [], [])
    assert result["playbook_params"]["recent_deploy"] is False
    assert result["playbook_params"]["version"] == "v2.1.0"


def test_earliest_wins_without_other_evidence_and_unrelated_signals_stay_out():
    facts = FakeFacts()
    first = signal("cpu_throttling", "Pod", "api-1", T0 - 200, namespace=NS, service="api",
                   node="n1", severity="medium")
    second = signal("memory_leak", "Pod", "api-2", T0, namespace=NS, service="api", node="n2")
    elsewhere = signal("disk_pressure", "Node", "n9", T0 - 500, node="n9")
    stale = signal("error_rate", "Service", "api", T0 - 3 * 3600, namespace=NS, service="api")
    result = diagnosis.diagnose(second, facts, [first, elsewhere, stale], [])
    assert result["signals"] == [first["signal_id"], second["signal_id"]]
    assert result["root_cause"]["signal_id"] == first["signal_id"]
    assert result["playbook"] == "cpu_throttling"
    assert result["severity"] == "high"
    assert "earliest signal" in " ".join(result["reasoning"])


def test_signals_in_open_incidents_are_not_reused():
    facts = FakeFacts()
    other = signal("cpu_throttling", "Pod", "api-1", T0 - 200, namespace=NS, service="api")
    incident = {"id": "inc-2", "status": "open", "signals": [other["signal_id"]], "nodes": [],
                "targets": [], "affected_services": [], "root_cause": {}}
    trigger = signal("memory_leak", "Pod", "api-2", T0, namespace=NS, service="api")
    result = diagnosis.diagnose(trigger, facts, [other], [incident])
    assert result["signals"] == [trigger["signal_id"]]


def test_linear_fit():
    slope, r2 = diagnosis.linear_fit([(0, 1.0), (60, 2.0), (120, 3.0)])
    assert slope == pytest.approx(1 / 60.0) and r2 == pytest.approx(1.0)
    assert diagnosis.linear_fit([(0, 1.0), (60, 1.0), (120, 1.0)]) == (0.0, 0.0)


def test_disk_pressure_on_the_same_node_does_not_join_a_memory_incident():
    incident = {"id": "inc-9", "status": "open", "signals": [], "nodes": [NODE], "targets": [],
                "affected_services": ["analytics-worker"],
                "root_cause": {"detector": "memory_leak", "service": "analytics-worker"}}
    disk = signal("disk_pressure", "Node", NODE, T0, node=NODE)
    result = diagnosis.diagnose(disk, FakeFacts(), [], [incident])
    assert result["joined"] is False
    assert result["root_cause"]["detector"] == "disk_pressure"


def test_not_ready_node_explains_latency_of_services_running_on_it():
    facts = FakeFacts(placement={"node-3": ["catalog", "search"]})
    latency = signal("latency_anomaly", "Service", "catalog", T0 - 240, namespace=NS,
                     service="catalog")
    errors = signal("error_rate", "Service", "search", T0 - 200, namespace=NS, service="search")
    not_ready = signal("node_not_ready", "Node", "node-3", T0, node="node-3", severity="critical")
    result = diagnosis.diagnose(not_ready, facts, [latency, errors], [])
    assert result["root_cause"]["signal_id"] == not_ready["signal_id"]
    assert result["playbook"] == "node_not_ready"
    assert result["affected_services"] == ["catalog", "search"]
    assert "explains latency_anomaly on catalog; error_rate on search" in " ".join(
        result["reasoning"])


def test_a_cause_joining_a_symptom_incident_refines_its_root():
    incident = {"id": "inc-3", "status": "remediating", "signals": ["lat"], "nodes": [],
                "targets": ["service.production.orders-api"], "affected_services": ["orders-api"],
                "root_cause": {"detector": "latency_anomaly", "service": "orders-api",
                               "summary": "latency of orders-api"},
                "playbook": "latency_anomaly"}
    pool = signal("connection_pool", "Service", "orders-api", T0, namespace=NS,
                  service="orders-api", summary="pool of orders-api full")
    result = diagnosis.diagnose(pool, FakeFacts(), [], [incident])
    assert result["joined"] is False and result["refined"] is True
    assert result["incident_id"] == "inc-3"
    assert result["playbook"] == "connection_pool_exhaustion"
    assert result["playbook_params"]["service"] == "orders-api"
    assert result["root_cause"]["signal_id"] == pool["signal_id"]
    record = dict(incident, signals=list(incident["signals"]),
                  affected_services=list(incident["affected_services"]))
    assert diagnosis.merge_joined(record, pool, result)
    assert record["playbook"] == "connection_pool_exhaustion"
    assert record["playbook_history"] == ["latency_anomaly"]
    assert not diagnosis.merge_joined(record, pool, result), "second time is a no-op"
    assert "root cause refined: pool of orders-api full explains the earlier latency" in \
        result["reasoning"][-1]


def test_a_symptom_joining_a_cause_incident_does_not_refine():
    incident = {"id": "inc-3", "status": "open", "signals": [], "nodes": [], "targets": [],
                "affected_services": ["orders-api"],
                "root_cause": {"detector": "connection_pool", "service": "orders-api"}}
    latency = signal("latency_anomaly", "Service", "orders-api", T0, namespace=NS,
                     service="orders-api")
    result = diagnosis.diagnose(latency, FakeFacts(), [], [incident])
    assert result["joined"] is True and result["refined"] is False


def test_upstream_cause_joins_a_downstream_symptom_incident_and_refines_it():
    facts = cascade_facts(dependencies={"c": ["b"], "b": ["a"]})
    incident = {"id": "inc-4", "status": "remediating", "signals": [], "nodes": [],
                "targets": [], "affected_services": ["c"],
                "root_cause": {"detector": "error_rate", "service": "c", "summary": "errors c"}}
    pool = signal("connection_pool", "Service", "a", T0, namespace=NS, service="a")
    result = diagnosis.diagnose(pool, facts, [], [incident])
    assert result["joined"] is False and "a is upstream of c (c -> b -> a)" in result["summary"]
    assert result["refined"] is True and result["root_cause"]["service"] == "a"


def test_not_ready_node_joins_and_refines_cpu_throttling_of_its_services():
    facts = FakeFacts(placement={"node-3": ["catalog"]})
    incident = {"id": "inc-5", "status": "open", "signals": [], "nodes": ["node-1"],
                "targets": [], "affected_services": ["catalog"],
                "root_cause": {"detector": "cpu_throttling", "service": "catalog"}}
    not_ready = signal("node_not_ready", "Node", "node-3", T0, node="node-3")
    result = diagnosis.diagnose(not_ready, facts, [], [incident])
    assert result["joined"] is False and result["refined"] is True
    assert result["incident_id"] == "inc-5" and result["playbook"] == "node_not_ready"


def test_missing_deploy_history_is_said_not_hidden():
    class Broken(FakeFacts):
        def deploy_history(self, namespace, deployment):
            raise ImportError("no st2common")

    crash = signal("crash_loop", "Pod", "search-1", T0, namespace=NS, service="search")
    result = diagnosis.diagnose(crash, Broken(), [], [])
    assert "deploy history of search unavailable (no st2common)" in result["reasoning"]


def test_a_new_revision_with_the_same_image_is_a_configuration_change():
    facts = FakeFacts(deploys={(NS, "search"): revisions((8, T0 - 15 * 60, "v2.1.0"),
                                                         (7, T0 - 9 * 86400, "v2.1.0"))})
    crash = signal("crash_loop", "Pod", "search-1", T0, namespace=NS, service="search")
    result = diagnosis.diagnose(crash, facts, [], [])
    assert result["playbook_params"]["config_change"] is True
    assert "configuration of search changed 15 min before onset (revision 8, same image " \
        "v2.1.0)" in result["reasoning"]


def test_services_moved_by_the_incidents_own_eviction_are_consequences():
    from lib.diagnosis import disrupted_services
    incident = {"actions": [
        {"action": "self_healing.evict_pods", "dry_run": False,
         "result": {"evicted": ["core/identity-gateway-7f9c8d-x2x4q", "core/wallet-7d-abcde"]}},
        {"action": "self_healing.evict_pods", "dry_run": True,
         "result": {"evicted": ["core/other-5d-zzzzz"]}},
        {"action": "self_healing.restart_pod", "result": {"pod": "cart-6b7c-qq1aa"}}]}
    assert disrupted_services(incident) == {"identity-gateway", "wallet", "cart"}

"""OOMKilled crash loops on a node short of memory are the node's (memory_pressure_node, no pod
restart); a container that died at its own limit on a healthy node stays a pod problem."""
import pytest

from lib import clock, config, diagnosis
from support.diagnosis_fakes import GB, FakeFacts, signal
from support.healing_fakes import T0, FixedClock

NS = "batch"
NODE = "n-1"
LIMIT = 8 * GB


@pytest.fixture(autouse=True)
def fixed_clock():
    FixedClock(T0 + 1).install()
    yield
    clock.reset()


class OomFacts(FakeFacts):
    """FakeFacts plus the node's memory peak and the OOM-killed pods on it."""

    def __init__(self, peak_pct=None, kills=(), threshold_pct=None, **kwargs):
        super(OomFacts, self).__init__(**kwargs)
        self.peak_pct = peak_pct
        self.kills = list(kills)
        self.lookbacks = []
        self.settings = {"detectors": {"memory_pressure": {"threshold_pct": threshold_pct}}} \
            if threshold_pct is not None else None

    def node_memory_peak_pct(self, node, lookback_s):
        self.lookbacks.append(lookback_s)
        return self.peak_pct if node == NODE else None

    def oom_kills_on_node(self, node, lookback_s):
        return [dict(k) for k in self.kills] if node == NODE else []


def kill(pod, peak, limit=LIMIT, service="routing-svc"):
    return {"namespace": NS, "pod": pod, "service": service, "restarts": 3,
            "peak_bytes": peak, "limit_bytes": limit}


def crash(pod, first=T0, reason="OOMKilled", exit_code=137, service="routing-svc"):
    return signal("crash_loop", "Pod", pod, first, namespace=NS, service=service, node=NODE,
                  summary="crash loop of %s/%s, last %s" % (NS, pod, reason),
                  metadata={"restarts": 5, "window_minutes": 10, "reason": reason,
                            "exit_code": exit_code, "container": service})


def assert_node_root(result):
    root = result["root_cause"]
    assert root["detector"] == "memory_pressure"
    assert root["target"] == {"kind": "Node", "namespace": "", "name": NODE, "node": NODE}
    assert result["playbook"] == "memory_pressure_node"
    assert result["playbook_params"]["node"] == NODE
    assert "node._.%s" % NODE in result["targets"] and NODE in result["nodes"]


def test_an_oom_crash_loop_on_a_node_past_the_pressure_threshold_is_the_node():
    facts = OomFacts(peak_pct=96.0, kills=[kill("routing-svc-a", 6.9 * GB)])
    result = diagnosis.diagnose(crash("routing-svc-a"), facts, [], [])
    assert_node_root(result)
    root = result["root_cause"]
    assert root["synthetic"] is True and root["metadata"]["oom_killed_pods"] == ["routing-svc-a"]
    assert root["metadata"]["threshold_pct"] == config.defaults()["detectors"][
        "memory_pressure"]["threshold_pct"]
    assert any("peaked at 96%" in line and "frees nothing" in line
               for line in result["reasoning"])
    assert facts.lookbacks and facts.lookbacks[0] >= 600


def test_several_pods_oom_killed_below_their_limits_on_one_node_is_the_node():
    # the kills free memory at once: the sampled peak stays under the threshold
    facts = OomFacts(peak_pct=62.0, kills=[kill("routing-svc-a", 6.9 * GB),
                                           kill("routing-svc-b", 7.0 * GB)])
    result = diagnosis.diagnose(crash("routing-svc-a"), facts, [], [])
    assert_node_root(result)
    root = result["root_cause"]
    assert root["summary"] == ("memory pressure on node n-1: 2 OOM-killed crash-looping "
                               "container(s) of routing-svc")
    assert "2 containers OOM-killed on node n-1" in root["metadata"]["why"]
    assert "below their memory limits" in root["metadata"]["why"]


def test_containers_without_a_memory_limit_can_only_be_killed_by_the_node():
    facts = OomFacts(peak_pct=70.0, kills=[kill("a-1", 3 * GB, limit=None, service="a"),
                                           kill("b-1", 2 * GB, limit=None, service="b")])
    result = diagnosis.diagnose(crash("a-1", service="a"), facts, [], [])
    assert_node_root(result)


def test_one_pod_at_its_own_limit_on_a_healthy_node_stays_a_pod_problem():
    facts = OomFacts(peak_pct=55.0, kills=[kill("routing-svc-a", 0.99 * LIMIT)])
    result = diagnosis.diagnose(crash("routing-svc-a"), facts, [], [])
    assert result["root_cause"]["detector"] == "crash_loop"
    assert result["playbook"] == "pod_crash_loop"
    assert any("the OOM kill is the container's own" in line and "died at its memory limit"
               in line for line in result["reasoning"])


def test_two_replicas_at_their_limits_on_one_healthy_node_stay_a_deployment_problem():
    facts = OomFacts(peak_pct=70.0, kills=[kill("routing-svc-a", 0.98 * LIMIT),
                                           kill("routing-svc-b", 0.99 * LIMIT)])
    result = diagnosis.diagnose(crash("routing-svc-a"), facts, [crash("routing-svc-b")], [])
    assert result["root_cause"]["detector"] == "crash_loop"
    assert result["playbook"] == "pod_crash_loop"


def test_the_threshold_is_the_memory_pressure_detectors_setting():
    kills = [kill("routing-svc-a", 0.99 * LIMIT)]
    default = diagnosis.diagnose(crash("routing-svc-a"), OomFacts(peak_pct=85.0, kills=kills),
                                 [], [])
    assert default["playbook"] == "pod_crash_loop"   # the default threshold is 90 %
    lowered = diagnosis.diagnose(crash("routing-svc-a"),
                                 OomFacts(peak_pct=85.0, kills=kills, threshold_pct=80), [], [])
    assert_node_root(lowered)


def test_a_crash_that_is_no_oom_kill_stays_a_crash_loop_on_a_pressured_node():
    facts = OomFacts(peak_pct=96.0, kills=[])
    result = diagnosis.diagnose(crash("routing-svc-a", reason="Error", exit_code=1), facts,
                                [], [])
    assert result["root_cause"]["detector"] == "crash_loop"
    assert result["playbook"] == "pod_crash_loop"


def test_without_node_facts_an_oom_crash_loop_stays_a_crash_loop():
    result = diagnosis.diagnose(crash("routing-svc-a"), FakeFacts(), [], [])
    assert result["playbook"] == "pod_crash_loop"


def test_the_nodes_own_pressure_signal_becomes_the_root_of_its_oom_crash_loops():
    pressure = signal("memory_pressure", "Node", NODE, T0 + 30, node=NODE, severity="critical",
                      summary="memory pressure on node n-1: 93%")
    facts = OomFacts(peak_pct=None, kills=[])
    result = diagnosis.diagnose(crash("routing-svc-a"), facts, [pressure], [])
    assert_node_root(result)
    assert result["root_cause"]["signal_id"] == pressure["signal_id"]
    assert not result["root_cause"].get("synthetic")


def incident_of(result):
    return dict(result, id="inc-1", status="verifying", created_at="2026-01-01T00:00:00Z")


def test_a_second_oom_crash_loop_on_the_node_refines_a_crash_loop_incident_to_the_node():
    alone = OomFacts(peak_pct=60.0, kills=[kill("routing-svc-a", 6.9 * GB)])
    first = diagnosis.diagnose(crash("routing-svc-a"), alone, [], [])
    assert first["playbook"] == "pod_crash_loop"
    both = OomFacts(peak_pct=60.0, kills=[kill("routing-svc-a", 6.9 * GB),
                                          kill("routing-svc-b", 7.0 * GB)])
    later = diagnosis.diagnose(crash("routing-svc-b", first=T0 + 300), both, [],
                               [incident_of(first)])
    assert later["refined"] is True and later["joined"] is False
    assert later["refined_playbook"] == "memory_pressure_node"
    assert later["root_cause"]["detector"] == "memory_pressure"
    assert later["root_cause"]["target"]["name"] == NODE
    assert later["playbook_params"]["node"] == NODE
    assert "root cause refined" in later["reasoning"][-1]


def test_a_second_replica_at_its_limit_only_joins_the_crash_loop_incident():
    facts = OomFacts(peak_pct=60.0, kills=[kill("routing-svc-a", 0.99 * LIMIT),
                                           kill("routing-svc-b", 0.99 * LIMIT)])
    first = diagnosis.diagnose(crash("routing-svc-a"), OomFacts(
        peak_pct=60.0, kills=[kill("routing-svc-a", 0.99 * LIMIT)]), [], [])
    later = diagnosis.diagnose(crash("routing-svc-b", first=T0 + 300), facts, [],
                               [incident_of(first)])
    assert later["joined"] is True and not later["refined"]


def test_the_nodes_pressure_signal_refines_an_oom_crash_loop_incident():
    first = diagnosis.diagnose(crash("routing-svc-a"), OomFacts(peak_pct=60.0), [], [])
    assert first["playbook"] == "pod_crash_loop"
    pressure = signal("memory_pressure", "Node", NODE, T0 + 400, node=NODE,
                      summary="memory pressure on node n-1: 93%")
    later = diagnosis.diagnose(pressure, OomFacts(peak_pct=93.0), [], [incident_of(first)])
    assert later["refined"] is True
    assert later["refined_playbook"] == "memory_pressure_node"
    assert later["root_cause"]["signal_id"] == pressure["signal_id"]


def test_a_pressure_signal_does_not_refine_a_crash_loop_that_is_no_oom_kill():
    first = diagnosis.diagnose(crash("routing-svc-a", reason="Error", exit_code=1),
                               OomFacts(), [], [])
    pressure = signal("memory_pressure", "Node", NODE, T0 + 400, node=NODE)
    later = diagnosis.diagnose(pressure, OomFacts(peak_pct=93.0), [], [incident_of(first)])
    assert later["joined"] is True and not later["refined"]


class QueryProm(object):
    """Answers instant queries by the metric they name; records the queries."""

    def __init__(self, answers):
        self.answers = answers
        self.queries = []

    def query(self, promql):
        from lib.prom import Sample

        self.queries.append(promql)
        for metric, rows in self.answers.items():
            if metric in promql:
                return [Sample(dict(labels), value, T0) for labels, value in rows]
        return []


def test_cluster_facts_list_the_oom_killed_pods_that_restarted_on_the_node():
    from lib.diagnosis_facts import ClusterFacts

    a = {"namespace": NS, "pod": "routing-svc-7f8d9c5b6-x2x4z"}
    b = {"namespace": NS, "pod": "other-7f8d9c5b6-abcde"}
    prom = QueryProm({"last_terminated_reason": [(a, 1.0), (b, 1.0)],
                      "restarts_total": [(a, 3.0), (b, 0.0)],
                      "working_set_bytes": [(a, 6.9 * GB), (b, 1 * GB)],
                      "resource_limits": [(a, LIMIT)]})
    kills = ClusterFacts(None, None, prom).oom_kills_on_node(NODE, 780)
    assert kills == [{"namespace": NS, "pod": a["pod"], "service": "routing-svc",
                      "restarts": 3, "peak_bytes": 6.9 * GB, "limit_bytes": LIMIT}]
    assert all('node="n-1"' in q for q in prom.queries)
    assert any('reason="OOMKilled"' in q for q in prom.queries)
    assert any("[780s]" in q for q in prom.queries)


def test_cluster_facts_node_memory_peak_uses_the_detectors_utilisation():
    from lib.detectors.memory_pressure import UTIL
    from lib.diagnosis_facts import ClusterFacts

    prom = QueryProm({"MemAvailable": [({}, 97.5)]})
    assert ClusterFacts(None, None, prom).node_memory_peak_pct(NODE, 600) == 97.5
    assert UTIL % {"sel": 'node="n-1"'} in prom.queries[0] and "[600s:" in prom.queries[0]

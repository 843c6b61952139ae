"""NotReady nodes explain the symptoms of the services on them, before and after the node's
own signal; a node storm is named; a signal already weighed never refines its incident."""
import pytest

from lib import clock, diagnosis
from support.diagnosis_fakes import FakeFacts, signal
from support.healing_fakes import T0, FixedClock

NS = "production"
NODES = ["n-1", "n-2", "n-3", "n-4", "n-5", "n-6"]


@pytest.fixture(autouse=True)
def fixed_clock():
    FixedClock(T0 + 1).install()
    yield
    clock.reset()


class NodeFacts(FakeFacts):
    """FakeFacts plus pod placement per service and node Ready states."""

    def __init__(self, hosts, down, since, **kwargs):
        super(NodeFacts, self).__init__(dependencies={"frontend": ["catalog"]}, **kwargs)
        self.hosts = hosts
        self.health = [{"name": n, "ready": "Unknown" if n in down else "True",
                        "since": since if n in down else T0 - 86400} for n in NODES]
        self.settings = {"budgets": {"max_unhealthy_nodes": 3, "max_unhealthy_nodes_pct": 10},
                         "detectors": {"node_not_ready": {"grace_s": 300}}}

    def nodes_of_service(self, namespace, service):
        return list(self.hosts.get(service, []))

    def node_health(self):
        return list(self.health)


def errors(service, first=T0):
    return signal("error_rate", "Service", service, first, namespace=NS, service=service,
                  summary="error rate of %s/%s" % (NS, service))


def test_errors_on_a_service_whose_node_went_not_ready_name_the_node():
    facts = NodeFacts({"catalog": ["n-2", "n-5"]}, down=["n-2"], since=T0)
    result = diagnosis.diagnose(errors("catalog"), facts, [], [])
    root = result["root_cause"]
    assert root["detector"] == "node_not_ready" and root["target"]["name"] == "n-2"
    assert result["playbook"] == "node_not_ready"
    assert root["metadata"]["grace_wait_s"] == 300 - 1 + diagnosis.GRACE_MARGIN_S
    assert "storm" not in root["summary"]
    assert result["nodes"] == ["n-2"]
    assert "catalog" in result["affected_services"]


def test_a_storm_is_named_and_every_not_ready_node_belongs_to_the_incident():
    down = ["n-3", "n-4", "n-5", "n-6"]
    facts = NodeFacts({"catalog": ["n-4", "n-5"]}, down=down, since=T0)
    result = diagnosis.diagnose(errors("catalog"), facts, [], [])
    root = result["root_cause"]
    assert root["target"]["name"] == "n-4"
    assert "node storm: 4 of 6 nodes NotReady" in root["summary"]
    assert root["metadata"]["storm"]["unhealthy"] == down
    assert result["nodes"] == down
    assert "node._.n-6" in result["targets"]
    assert any("a node storm" in line for line in result["reasoning"])
    later = signal("node_not_ready", "Node", "n-6", T0, node="n-6")
    incident = dict(result, id="inc-1", status="verifying")
    joined = diagnosis.diagnose(later, facts, [], [incident])
    assert joined["joined"] is True and joined["incident_id"] == "inc-1"
    assert not joined.get("refined")


def test_a_node_that_went_not_ready_long_after_the_errors_does_not_explain_them():
    facts = NodeFacts({"catalog": ["n-2"]}, down=["n-2"], since=T0 + 900)
    result = diagnosis.diagnose(errors("catalog", first=T0 - 1200), facts, [], [])
    assert result["root_cause"]["detector"] == "error_rate"


def test_a_healthy_placement_leaves_the_symptom_as_root():
    facts = NodeFacts({"catalog": ["n-1"]}, down=["n-2"], since=T0)
    result = diagnosis.diagnose(errors("catalog"), facts, [], [])
    assert result["root_cause"]["detector"] == "error_rate"


def test_node_signals_explain_errors_before_the_most_upstream_service_does():
    facts = NodeFacts({}, down=[], since=T0, placement={"n-3": ["catalog"], "n-4": ["frontend"]})
    nodes = [signal("node_not_ready", "Node", n, T0, node=n) for n in ("n-4", "n-3")]
    recent = [errors("catalog", T0 - 300), errors("frontend", T0 - 290), nodes[1]]
    result = diagnosis.diagnose(nodes[0], facts, recent, [])
    assert result["root_cause"]["target"]["name"] == "n-3"
    assert result["playbook"] == "node_not_ready"
    assert any("run pods of catalog" in line for line in result["reasoning"])


def test_a_signal_already_part_of_an_incident_joins_without_refining_it():
    node = signal("node_not_ready", "Node", "n-4", T0, node="n-4")
    root = errors("catalog", T0 - 300)
    incident = {"id": "inc-2", "status": "remediating", "root_cause": root,
                "signals": [root["signal_id"], node["signal_id"]], "nodes": [],
                "targets": ["service.production.catalog"],
                "affected_services": ["catalog", "frontend"]}
    facts = NodeFacts({}, down=[], since=T0, placement={"n-4": ["catalog"]})
    result = diagnosis.diagnose(node, facts, [], [incident])
    assert result["joined"] is True and not result["refined"]
    fresh = signal("node_not_ready", "Node", "n-4", T0 + 60, node="n-4")
    fresh["signal_id"] += ".new"
    refined = diagnosis.diagnose(fresh, facts, [], [dict(incident, signals=[
        root["signal_id"]])])
    assert refined["refined"] is True and refined["playbook"] == "node_not_ready"

"""End to end through the actions: diagnose opens a crash-loop incident, the node's memory
pressure refines it to memory_pressure_node, and the crash loop's planned restart is denied."""
from st2tests.base import BaseActionTestCase

from check_policy import CheckPolicy
from diagnose import Diagnose
from lib import clock
from support.diagnosis_fakes import FakeFacts, signal
from support.healing_fakes import T0, FakeCluster, FakeKube, FixedClock, node

NS, NODE = "batch", "n-1"
POD = {"kind": "Pod", "namespace": NS, "name": "routing-svc-a"}


class NodeFacts(FakeFacts):
    """FakeFacts plus the node's memory peak (what the OOM rule weighs)."""

    def __init__(self, peak_pct):
        super(NodeFacts, self).__init__()
        self.peak_pct = peak_pct

    def node_memory_peak_pct(self, name, lookback_s):
        return self.peak_pct if name == NODE else None

    def oom_kills_on_node(self, name, lookback_s):
        return []


CRASH = signal("crash_loop", "Pod", "routing-svc-a", T0, namespace=NS, service="routing-svc",
               node=NODE, summary="crash loop of batch/routing-svc-a, last OOMKilled",
               metadata={"restarts": 5, "window_minutes": 10, "reason": "OOMKilled",
                         "exit_code": 137, "container": "routing-svc"})
PRESSURE = signal("memory_pressure", "Node", NODE, T0 + 400, node=NODE,
                  summary="memory pressure on node n-1: 93%")


class TestRefinedIncidentSupersedesThePlan(BaseActionTestCase):
    action_cls = Diagnose

    def setUp(self):
        super(TestRefinedIncidentSupersedesThePlan, self).setUp()
        FixedClock(T0 + 1).install()
        self.addCleanup(clock.reset)

    def diagnose(self, sig, peak_pct, **params):
        action = Diagnose(config={"mode": "autonomous"}, action_service=self.action_service)
        action.facts = NodeFacts(peak_pct)
        return action.run(signal=sig, **params)

    def gate(self, **params):
        action = CheckPolicy(config={"mode": "autonomous"}, action_service=self.action_service)
        action.cluster = FakeCluster([node(NODE), node("n-2")])
        action.events_kube = FakeKube()
        return action.run(**params)

    def test_restart_planned_before_the_refinement_is_denied(self):
        first = self.diagnose(CRASH, 60.0, playbook="pod_crash_loop")
        assert (first["playbook"], first["route"]) == ("pod_crash_loop", "self")
        restart = dict(playbook="pod_crash_loop", step="restart_pod", risk="low", target=POD,
                       incident_id=first["incident_id"])
        before = self.gate(**restart)
        assert (before["decision"], before["check"]) == ("execute", "risk")
        later = self.diagnose(PRESSURE, 93.0, playbook="memory_pressure_node")
        assert later["incident_id"] == first["incident_id"] and later["refined"] is True
        assert (later["playbook"], later["route"]) == ("memory_pressure_node", "self")
        again = self.gate(**restart)
        assert (again["decision"], again["check"]) == ("deny", "superseded")
        assert "now belongs to playbook memory_pressure_node" in again["reason"]
        assert "memory pressure on node n-1: 93%" in again["reason"]
        undo = self.gate(**dict(restart, step="revert_restart_pod"))
        assert undo["decision"] == "execute"
        cordon = self.gate(playbook="memory_pressure_node", step="cordon_node", risk="low",
                           target={"kind": "Node", "name": NODE},
                           incident_id=first["incident_id"])
        assert (cordon["decision"], cordon["check"]) == ("execute", "risk")

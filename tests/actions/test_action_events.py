"""The audit Events mutating actions write (SelfHealingAction.finish): one per change made,
its message filled from the change, none for a dry run or a change already made; and the shared
target guard (SelfHealingAction.require_target)."""
from action_case import TwinActionTestCase
from cordon_node import CordonNode
from restart_pod import RestartPod
from rollback_deployment import RollbackDeployment
from scale_deployment import ScaleDeployment


class EventsCase(TwinActionTestCase):
    def healer_events(self, name):
        items, _ = self.twin.store.list("events")
        return [(e["reason"], e["message"]) for e in items
                if e["involvedObject"]["name"] == name
                and e.get("reportingComponent") == "self-healing"]


class ScaleEventsTest(EventsCase):
    action_cls = ScaleDeployment
    action_name = "scale_deployment"

    def test_one_event_per_change_with_the_change_s_numbers(self):
        self.run_action(namespace="prod", deployment="orders", delta=1, dry_run=True)
        self.assertEqual(self.healer_events("orders"), [])
        self.run_action(namespace="prod", deployment="orders", replicas=4, incident_id="inc-7")
        self.run_action(namespace="prod", deployment="orders", replicas=4, incident_id="inc-7")
        self.assertEqual(self.healer_events("orders"), [
            ("Scaled", "self-healing scaled orders from 2 to 4 replicas (incident inc-7)")])


class RollbackEventsTest(EventsCase):
    action_cls = RollbackDeployment
    action_name = "rollback_deployment"

    def test_event_names_both_versions(self):
        ok, result = self.run_action(namespace="prod", deployment="analytics-worker")
        self.assertTrue(result["changed"])
        self.assertEqual(self.healer_events("analytics-worker"), [
            ("RolledBack", "self-healing rolled analytics-worker back from v1.4.2 to v1.4.1")])


class CordonEventsTest(EventsCase):
    action_cls = CordonNode
    action_name = "cordon_node"

    def test_cluster_scoped_event(self):
        node = self.twin.store.list("nodes")[0][0]["metadata"]["name"]
        self.run_action(node=node, incident_id="inc-2")
        self.run_action(node=node, incident_id="inc-2")
        self.assertEqual(self.healer_events(node), [
            ("Cordoned", "self-healing cordoned node %s (incident inc-2)" % node)])


class RequireTargetTest(EventsCase):
    action_cls = RestartPod
    action_name = "restart_pod"

    def test_namespace_first_then_the_name_then_protection(self):
        cases = [({"pod": "x"}, "namespace: is required"),
                 ({"namespace": "prod"}, "pod: is required"),
                 ({"namespace": "kube-system", "pod": "x"}, "namespace: kube-system is protected")]
        for params, error in cases:
            ok, result = self.run_action(**params)
            self.assertFalse(ok)
            self.assertEqual((result["error"], result["error_type"]), (error, "input"))

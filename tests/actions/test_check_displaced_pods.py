"""check_displaced_pods against the twin: after pods were evicted from a cordoned node, did
their controllers' replacements find room elsewhere, or would an uncordon bring them back?"""
from action_case import TwinActionTestCase
from check_displaced_pods import CheckDisplacedPods
from evict_pods import EvictPods
from lib import incidents
from lib.datastore import Datastore
from twin_env import deployment, node

BATCH = {"workload-class": "batch"}


class CheckDisplacedPodsTest(TwinActionTestCase):
    action_cls = CheckDisplacedPods
    action_name = "check_displaced_pods"

    def setUp(self):
        super(CheckDisplacedPodsTest, self).setUp()
        self.label("node-a", BATCH)
        dep = deployment("ml", replicas=2)
        dep["spec"]["template"]["spec"]["nodeSelector"] = dict(BATCH)
        self.twin.store.create("deployments", dep)
        self.twin.steps(4)
        assert [p for p in self.twin.pods_on("node-a") if p.startswith("prod/ml-")], \
            self.twin.pods_on("node-a")

    def label(self, name, labels):
        self.twin.store.patch("nodes", None, name, {"metadata": {"labels": labels}})

    def cordon_and_evict(self):
        """What the playbook does before the check: cordon node-a, evict the ml pods."""
        self.twin.store.patch("nodes", None, "node-a", {"spec": {"unschedulable": True}})
        evict = EvictPods(config=self.twin.config())
        ok, result = (lambda out: out if isinstance(out, tuple) else (True, out))(
            evict.run(node="node-a", criteria="owner_kind == ReplicaSet AND namespace == prod",
                      pods=[p.split("/", 1)[1] for p in self.twin.pods_on("node-a")
                            if p.startswith("prod/ml-")]))
        self.assertTrue(ok, result)
        self.assertEqual(len(result["evicted"]), 2)
        self.twin.steps(4)  # the ReplicaSet re-creates them, the scheduler tries to place them
        moved = set(result["evicted"])
        return result, [f for f in result["selected"]
                        if "%s/%s" % (f["namespace"], f["name"]) in moved]

    def test_pods_with_nowhere_else_to_go_ask_for_escalation_with_the_reason(self):
        _, moved = self.cordon_and_evict()
        pending = [p for p in self.twin.pods("prod", "ml") if not p["spec"].get("nodeName")]
        self.assertEqual(len(pending), 2)
        ok, result = self.run_action(node="node-a", evicted=moved, wait_s=30, poll_s=10)
        self.assertTrue(ok, result)
        self.assertFalse(result["placed"])
        self.assertTrue(result["escalate"])
        reason = result["reason"]
        self.assertIn("2 evicted pod(s) of prod/ml are Pending", reason)
        self.assertIn("nodeSelector workload-class=batch matches only the cordoned node node-a",
                      reason)
        self.assertIn("uncordoning node-a would bring the pressure back", reason)
        self.assertIn("0/2 nodes are available", reason)  # the scheduler's own words
        # node-b is in the same pool but lacks the label: a new pool node would not have it
        self.assertFalse(result["pool_would_help"])
        self.assertIn("would not help", reason)
        self.assertEqual(result["waited_s"], 30.0)  # it gave the scheduler its time

    def test_pods_running_elsewhere_allow_the_uncordon(self):
        self.twin.store.create("nodes", node("node-c", pool="pool-2"))
        self.label("node-c", BATCH)
        _, moved = self.cordon_and_evict()
        ok, result = self.run_action(node="node-a", evicted=moved)
        self.assertTrue(ok, result)
        self.assertTrue(result["placed"])
        self.assertFalse(result["escalate"])
        self.assertEqual(result["reason"], "")
        running = result["workloads"][0]["running_elsewhere"]
        self.assertEqual(len(running), 2)
        self.assertTrue(all(r.endswith("@node-c") for r in running), running)
        self.assertIn("found room elsewhere", result["summary"])

    def test_a_pool_whose_nodes_all_carry_the_label_would_take_them(self):
        # node-b (same pool) carries the label too but has a taint the pods do not tolerate:
        # no existing node takes them, yet a new pool node (labelled, untainted) would
        self.label("node-b", BATCH)
        _, moved = self.cordon_and_evict()
        ok, result = self.run_action(node="node-a", evicted=moved, wait_s=0)
        self.assertTrue(ok, result)
        self.assertTrue(result["escalate"])
        self.assertTrue(result["pool_would_help"])
        self.assertIn("A new node of pool pool-1 would take them", result["reason"])

    def test_the_moved_pods_are_read_from_the_incident_record(self):
        evicted, _ = self.cordon_and_evict()
        book = incidents.Incidents(Datastore(self.action_service))
        record = incidents.new_record("inc-1")
        record["actions"] = [
            {"action": "self_healing.cordon_node", "step": "cordon_node", "dry_run": False,
             "result": {"node": "node-a", "changed": True}},
            {"action": "self_healing.evict_pods", "step": "evict_non_critical_pods",
             "dry_run": False, "result": evicted}]
        book.create(record)
        ok, result = self.run_action(node="node-a", incident_id="inc-1", wait_s=0)
        self.assertTrue(ok, result)
        self.assertTrue(result["escalate"])
        self.assertEqual(sorted(result["moved"]), sorted(evicted["evicted"]))

    def test_nothing_moved_means_nothing_can_come_back(self):
        book = incidents.Incidents(Datastore(self.action_service))
        book.create(incidents.new_record("inc-2"))
        ok, result = self.run_action(node="node-a", incident_id="inc-2")
        self.assertTrue(ok, result)
        self.assertTrue(result["placed"])
        self.assertFalse(result["escalate"])

    def test_bad_input_is_a_clear_error(self):
        ok, result = self.run_action(node="node-a")
        self.assertFalse(ok)
        self.assertIn("incident_id or evicted", result["error"])
        ok, result = self.run_action(node="node-a", evicted=["prod/x"])
        self.assertFalse(ok)
        self.assertIn("evicted: items are", result["error"])
        ok, result = self.run_action(node="node-a", incident_id="inc-missing")
        self.assertFalse(ok)

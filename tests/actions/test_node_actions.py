"""cordon_node, uncordon_node, evict_pods, drain_node against the twin's API server."""
from action_case import TwinActionTestCase
from cordon_node import CordonNode
from drain_node import DrainNode
from evict_pods import EvictPods
from uncordon_node import UncordonNode

CORDONED_BY = "self-healing.io/cordoned-by"


class CordonNodeTest(TwinActionTestCase):
    action_cls = CordonNode
    action_name = "cordon_node"

    def node(self, name="node-a"):
        return self.twin.store.get("nodes", None, name)

    def test_cordons_and_marks_the_node(self):
        ok, result = self.run_action(node="node-a", incident_id="inc-1")
        self.assertTrue(ok)
        self.assertTrue(result["changed"])
        node = self.node()
        self.assertTrue(node["spec"]["unschedulable"])
        self.assertEqual(node["metadata"]["annotations"][CORDONED_BY], "self-healing")
        self.assertEqual(node["metadata"]["annotations"]["self-healing.io/incident"], "inc-1")
        self.assertEqual(result["revert"]["action"], "self_healing.uncordon_node")
        self.assertEqual(self.audit_records()[0]["action"], "self_healing.cordon_node")

    def test_second_cordon_changes_nothing(self):
        self.run_action(node="node-a")
        version = self.node()["metadata"]["resourceVersion"]
        ok, result = self.run_action(node="node-a")
        self.assertTrue(ok)
        self.assertFalse(result["changed"])
        self.assertIn("already cordoned", result["would"])
        self.assertEqual(self.node()["metadata"]["resourceVersion"], version)

    def test_dry_run_reports_and_changes_nothing(self):
        ok, result = self.run_action(node="node-a", dry_run=True)
        self.assertTrue(ok)
        self.assertFalse(result["changed"])
        self.assertTrue(result["dry_run"])
        self.assertEqual(result["would"], "cordon node node-a")
        self.assertFalse(self.node()["spec"].get("unschedulable", False))

    def test_a_node_cordoned_by_a_human_is_not_claimed(self):
        self.twin.store.patch("nodes", None, "node-a", {"spec": {"unschedulable": True}})
        ok, result = self.run_action(node="node-a")
        self.assertFalse(result["changed"])
        self.assertNotIn(CORDONED_BY, self.node()["metadata"].get("annotations") or {})

    def test_transient_5xx_is_retried(self):
        self.twin.faults.fail("patch", "nodes", status=503, count=2)
        ok, result = self.run_action(node="node-a")
        self.assertTrue(ok)
        self.assertTrue(result["changed"])
        self.assertTrue(self.node()["spec"]["unschedulable"])
        self.assertEqual(self.twin.time.slept[:2], [1.0, 2.0])  # Kube.call back-off

    def test_conflict_rereads_and_retries(self):
        self.twin.faults.fail("patch", "nodes", status=409, count=1)
        ok, result = self.run_action(node="node-a")
        self.assertTrue(ok)
        self.assertTrue(result["changed"])
        self.assertTrue(self.node()["spec"]["unschedulable"])

    def test_persistent_api_failure_is_a_clear_failed_result(self):
        self.twin.faults.fail("patch", "nodes", status=500)
        ok, result = self.run_action(node="node-a")
        self.assertFalse(ok)
        self.assertEqual(result["error_type"], "kubernetes")
        self.assertEqual(result["status"], 500)
        self.assertFalse(self.node()["spec"].get("unschedulable", False))

    def test_unknown_node_fails_with_404(self):
        ok, result = self.run_action(node="nope")
        self.assertFalse(ok)
        self.assertEqual(result["status"], 404)

    def test_bad_pack_config_is_reported_not_raised(self):
        action = self.get_action_instance(config={"mode": "sometimes"})
        ok, result = action.run(node="node-a")
        self.assertFalse(ok)
        self.assertEqual(result["error_type"], "config")
        self.assertIn("mode", result["error"])


class UncordonNodeTest(TwinActionTestCase):
    action_cls = UncordonNode
    action_name = "uncordon_node"

    def cordon(self):
        result = CordonNode(config=self.twin.config(),
                            action_service=self.action_service).run(node="node-a")
        self.assertTrue(result["changed"])

    def test_uncordons_what_the_healer_cordoned_and_clears_marks(self):
        self.cordon()
        ok, result = self.run_action(node="node-a")
        self.assertTrue(ok)
        self.assertTrue(result["changed"])
        node = self.twin.store.get("nodes", None, "node-a")
        self.assertFalse(node["spec"]["unschedulable"])
        self.assertNotIn(CORDONED_BY, node["metadata"].get("annotations") or {})
        ok, again = self.run_action(node="node-a")
        self.assertFalse(again["changed"])

    def test_leaves_a_human_cordon_alone_unless_forced(self):
        self.twin.store.patch("nodes", None, "node-a", {"spec": {"unschedulable": True}})
        ok, result = self.run_action(node="node-a")
        self.assertTrue(ok)
        self.assertFalse(result["changed"])
        self.assertTrue(result["refused"])
        self.assertTrue(self.twin.store.get("nodes", None, "node-a")["spec"]["unschedulable"])
        ok, forced = self.run_action(node="node-a", force=True)
        self.assertTrue(forced["changed"])
        self.assertFalse(self.twin.store.get("nodes", None, "node-a")["spec"]["unschedulable"])

    def test_dry_run(self):
        self.cordon()
        ok, result = self.run_action(node="node-a", dry_run=True)
        self.assertEqual(result["would"], "uncordon node node-a")
        self.assertFalse(result["changed"])
        self.assertTrue(self.twin.store.get("nodes", None, "node-a")["spec"]["unschedulable"])


class EvictPodsTest(TwinActionTestCase):
    action_cls = EvictPods
    action_name = "evict_pods"

    def test_seed_criteria_selects_low_priority_restartable_pods_only(self):
        ok, result = self.run_action(node="node-a", max_evictions=20, dry_run=True)
        self.assertTrue(ok)
        chosen = sorted(result["would_evict"])
        self.assertTrue(chosen)
        self.assertTrue(all(p.split("/")[1].startswith(("analytics-worker-", "orders-", "web-"))
                            for p in chosen), chosen)
        reasons = {s["pod"]: s["reason"] for s in result["skipped"]}
        self.assertEqual(reasons["prod/node-exporter-x1"], "DaemonSet pod")
        self.assertEqual(reasons["prod/static-web-node-a"], "mirror pod")
        self.assertEqual(reasons["prod/debug-shell"], "does not match criteria")  # bare pod
        self.assertEqual(reasons["kube-system/coredns-1"], "protected namespace kube-system")
        batch = [p for p in reasons if p.startswith("prod/batch-")]
        self.assertEqual(reasons[batch[0]], "does not match criteria")  # high-priority
        self.assertEqual(result["evicted"], [])
        self.assertEqual(len(self.twin.pods_on("node-a")), 11)

    def test_evicts_through_the_eviction_api_and_the_controller_recreates(self):
        before = set(self.twin.pods_on("node-a"))
        ok, result = self.run_action(node="node-a", criteria="priority < high AND "
                                     "restartable == true AND namespace == prod",
                                     pods=[p for p in before if "analytics-worker" in p],
                                     incident_id="inc-7")
        self.assertTrue(ok)
        self.assertEqual(len(result["evicted"]), 2)
        self.assertTrue(result["changed"])
        self.assertTrue(result["complete"])
        terminating = {"%s/%s" % (p["metadata"]["namespace"], p["metadata"]["name"])
                       for p in self.twin.store.terminating("pods")}
        self.assertEqual(set(result["evicted"]), terminating)  # evicted: graceful deletion
        self.twin.steps(1)
        self.assertFalse(set(result["evicted"]) & set(self.twin.pods_on("node-a")))
        self.twin.steps(2)
        self.assertEqual(len(self.twin.pods("prod", "analytics-worker")), 2)

    def test_pdb_refusal_is_retried_with_backoff_then_reported_never_deleted(self):
        web = [p for p in self.twin.pods_on("node-a") if p.startswith("prod/web-")]
        ok, result = self.run_action(node="node-a", pods=web, eviction_attempts=3,
                                     backoff_s=5)
        self.assertFalse(ok)  # not one pod moved: the step failed, the plan undoes and escalates
        self.assertIn("no pod could be evicted from node node-a", result["error"])
        self.assertEqual(sorted(result["refused"]), sorted(web))
        self.assertFalse(result["complete"])
        self.assertFalse(result["changed"])
        self.assertEqual(self.twin.time.slept, [5, 10, 5, 10])
        self.assertEqual(set(web) & set(self.twin.pods_on("node-a")), set(web))

    def test_the_eviction_deadline_bounds_the_429_retries(self):
        """A PDB answering 429 for every pod: retries stop at the run's deadline, pods not
        tried by then are reported, and nothing is waited past it."""
        web = [p for p in self.twin.pods_on("node-a") if p.startswith("prod/web-")]
        self.assertEqual(len(web), 2)
        ok, result = self.run_action(node="node-a", pods=web, eviction_attempts=5,
                                     backoff_s=5, eviction_timeout_s=15)
        self.assertFalse(ok)
        self.assertEqual(self.twin.time.slept, [5, 10])  # a third back-off (20 s) would pass it
        self.assertLessEqual(sum(self.twin.time.slept), 15)
        self.assertEqual(len(result["refused"]), 1)
        self.assertEqual(result["failed"][0]["attempts"], 0)
        self.assertIn("eviction deadline", result["failed"][0]["error"])

    def test_some_pods_moved_is_a_partial_success(self):
        mixed = [p for p in self.twin.pods_on("node-a") if p.startswith(("prod/web-",
                                                                          "prod/orders-"))]
        ok, result = self.run_action(node="node-a", pods=mixed, eviction_attempts=1)
        self.assertTrue(ok, result)
        self.assertTrue(result["evicted"])
        self.assertTrue(result["refused"])
        self.assertFalse(result["complete"])

    def test_max_evictions_caps_the_run(self):
        ok, result = self.run_action(node="node-a", criteria="restartable == true AND "
                                     "priority < high AND namespace != kube-system",
                                     max_evictions=1, dry_run=True)
        self.assertEqual(len(result["would_evict"]), 1)
        self.assertTrue(result["over_limit"])

    def test_bad_criteria_is_an_input_error(self):
        ok, result = self.run_action(node="node-a", criteria="priority <<< 3")
        self.assertFalse(ok)
        self.assertEqual(result["error_type"], "input")

    def test_eviction_5xx_is_retried(self):
        target = [p for p in self.twin.pods_on("node-a") if "orders-" in p][:1]
        self.twin.faults.fail("create", "pods/eviction", status=503, count=1)
        ok, result = self.run_action(node="node-a", pods=target, backoff_s=1)
        self.assertEqual(result["evicted"], target)
        self.assertEqual(result["evictions"][0]["attempts"], 2)


class DrainNodeTest(TwinActionTestCase):
    action_cls = DrainNode
    action_name = "drain_node"

    def test_drain_cordons_evicts_and_reports_what_stays(self):
        ok, result = self.run_action(node="node-a", incident_id="inc-9", eviction_attempts=2,
                                     backoff_s=1, timeout_s=60, poll_s=5)
        self.assertTrue(ok)
        self.assertTrue(result["cordon"]["changed"])
        self.assertTrue(self.twin.store.get("nodes", None, "node-a")["spec"]["unschedulable"])
        left = set(self.twin.pods_on("node-a"))
        for ref in result["evicted"]:
            self.assertNotIn(ref, left)
        self.assertTrue(any(p.startswith("prod/web-") for p in result["refused"]))
        self.assertIn("prod/node-exporter-x1", left)
        self.assertIn("kube-system/coredns-1", left)
        self.assertIn("prod/debug-shell", left)  # a bare pod would be lost: not evicted
        self.assertFalse(result["complete"])  # the PDB kept web's pods

    def test_dry_run_changes_nothing(self):
        before = self.twin.pods_on("node-a")
        ok, result = self.run_action(node="node-a", dry_run=True)
        self.assertFalse(result["changed"])
        self.assertIn("cordon node node-a", result["would"])
        self.assertEqual(self.twin.pods_on("node-a"), before)
        self.assertFalse(self.twin.store.get("nodes", None, "node-a")["spec"].get(
            "unschedulable", False))

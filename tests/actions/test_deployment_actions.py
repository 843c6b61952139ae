"""check_recent_deploys, rollback_deployment, scale_deployment, restart_deployment,
wait_for_rollout against the twin's API server (its Deployment controller rolls out)."""
from action_case import TwinActionTestCase
from check_recent_deploys import CheckRecentDeploys
from restart_deployment import RestartDeployment
from rollback_deployment import RollbackDeployment
from scale_deployment import ScaleDeployment
from wait_for_rollout import WaitForRollout


def image(store, name="analytics-worker"):
    dep = store.get("deployments", "prod", name)
    return dep["spec"]["template"]["spec"]["containers"][0]["image"]


class CheckRecentDeploysTest(TwinActionTestCase):
    action_cls = CheckRecentDeploys
    action_name = "check_recent_deploys"

    def test_history_with_times_and_versions(self):
        ok, result = self.run_action(namespace="prod", deployment="analytics-worker")
        self.assertTrue(ok)
        self.assertEqual(result["current_revision"], 2)
        self.assertEqual(result["current_version"], "v1.4.2")
        self.assertEqual(result["previous_version"], "v1.4.1")
        self.assertEqual([r["revision"] for r in result["revisions"]], [2, 1])
        self.assertTrue(result["deployed_within_window"])
        self.assertTrue(result["rollback_possible"])
        self.assertTrue(result["revisions"][0]["created_at"].endswith("Z"))

    def test_outside_the_window(self):
        self.twin.time.t += 2 * 3600
        ok, result = self.run_action(namespace="prod", deployment="analytics-worker",
                                     within_minutes=60)
        self.assertFalse(result["deployed_within_window"])
        self.assertGreater(result["minutes_since_deploy"], 120)

    def test_single_revision_cannot_roll_back(self):
        ok, result = self.run_action(namespace="prod", deployment="web")
        self.assertFalse(result["rollback_possible"])
        self.assertEqual(result["previous_revision"], 0)


class RollbackDeploymentTest(TwinActionTestCase):
    action_cls = RollbackDeployment
    action_name = "rollback_deployment"

    def test_rollout_undo_to_the_previous_revision(self):
        ok, result = self.run_action(namespace="prod", deployment="analytics-worker",
                                     incident_id="inc-1")
        self.assertTrue(ok)
        self.assertTrue(result["changed"])
        self.assertEqual((result["from_revision"], result["to_revision"]), (2, 1))
        self.assertEqual((result["from_version"], result["to_version"]), ("v1.4.2", "v1.4.1"))
        self.assertEqual(image(self.twin.store), "registry.local/analytics-worker:v1.4.1")
        dep = self.twin.store.get("deployments", "prod", "analytics-worker")
        self.assertNotIn("pod-template-hash", dep["spec"]["template"]["metadata"]["labels"])
        self.assertEqual(dep["metadata"]["annotations"]["self-healing.io/incident"], "inc-1")
        self.assertEqual(result["revert"]["parameters"]["to_revision"], 2)
        self.twin.steps(8)
        history = CheckRecentDeploys(config=self.twin.config(),
                                     action_service=self.action_service).run(
            namespace="prod", deployment="analytics-worker")
        self.assertEqual(history["current_version"], "v1.4.1")
        self.assertEqual(history["current_revision"], 3)  # the old ReplicaSet, renumbered

    def test_same_incident_does_not_flip_back(self):
        self.run_action(namespace="prod", deployment="analytics-worker", incident_id="inc-1")
        self.twin.steps(2)
        ok, again = self.run_action(namespace="prod", deployment="analytics-worker",
                                    incident_id="inc-1")
        self.assertTrue(ok)
        self.assertFalse(again["changed"])
        self.assertEqual(image(self.twin.store), "registry.local/analytics-worker:v1.4.1")

    def test_named_revision_already_running_is_a_no_op(self):
        ok, result = self.run_action(namespace="prod", deployment="analytics-worker",
                                     to_revision=2)
        self.assertTrue(ok)
        self.assertFalse(result["changed"])

    def test_dry_run_reports_versions_and_changes_nothing(self):
        ok, result = self.run_action(namespace="prod", deployment="analytics-worker",
                                     dry_run=True)
        self.assertFalse(result["changed"])
        self.assertIn("v1.4.2", result["would"])
        self.assertIn("v1.4.1", result["would"])
        self.assertEqual(image(self.twin.store), "registry.local/analytics-worker:v1.4.2")

    def test_conflict_is_retried_after_a_fresh_read(self):
        self.twin.faults.fail("patch", "deployments", status=409, count=2)
        ok, result = self.run_action(namespace="prod", deployment="analytics-worker")
        self.assertTrue(ok)
        self.assertTrue(result["changed"])
        self.assertEqual(image(self.twin.store), "registry.local/analytics-worker:v1.4.1")

    def test_stale_resource_version_gets_a_real_409(self):
        # A concurrent writer changes the Deployment between our read and our patch.
        from lib import k8s_workloads

        calls = {"n": 0}
        real = k8s_workloads.history

        def history_then_race(kube, namespace, name):
            info = real(kube, namespace, name)
            calls["n"] += 1
            if calls["n"] == 1:
                self.twin.store.patch("deployments", "prod", "analytics-worker",
                                      {"metadata": {"labels": {"touched": "yes"}}})
            return info

        k8s_workloads.history = history_then_race
        try:
            ok, result = self.run_action(namespace="prod", deployment="analytics-worker")
        finally:
            k8s_workloads.history = real
        self.assertTrue(ok)
        self.assertEqual(calls["n"], 2)
        dep = self.twin.store.get("deployments", "prod", "analytics-worker")
        self.assertEqual(dep["metadata"]["labels"]["touched"], "yes")

    def test_no_previous_revision_is_an_input_error(self):
        ok, result = self.run_action(namespace="prod", deployment="web")
        self.assertFalse(ok)
        self.assertEqual(result["error_type"], "input")

    def test_protected_namespace_is_refused(self):
        ok, result = self.run_action(namespace="kube-system", deployment="coredns")
        self.assertFalse(ok)
        self.assertIn("protected", result["error"])


class ScaleDeploymentTest(TwinActionTestCase):
    action_cls = ScaleDeployment
    action_name = "scale_deployment"

    def replicas(self):
        return self.twin.store.get("deployments", "prod", "orders")["spec"]["replicas"]

    def test_delta_scales_through_the_scale_subresource(self):
        ok, result = self.run_action(namespace="prod", deployment="orders", delta=1)
        self.assertTrue(ok)
        self.assertEqual((result["previous_replicas"], result["replicas"]), (2, 3))
        self.assertEqual(self.replicas(), 3)
        self.assertEqual(result["revert"]["parameters"]["replicas"], 2)

    def test_absolute_replicas_is_idempotent(self):
        self.run_action(namespace="prod", deployment="orders", replicas=4)
        ok, again = self.run_action(namespace="prod", deployment="orders", replicas=4)
        self.assertFalse(again["changed"])
        self.assertEqual(self.replicas(), 4)

    def test_bounds_and_dry_run(self):
        ok, result = self.run_action(namespace="prod", deployment="orders", delta=-5,
                                     dry_run=True)
        self.assertEqual(result["replicas"], 1)  # min_replicas
        self.assertTrue(result["limited"])
        self.assertFalse(result["changed"])
        self.assertEqual(self.replicas(), 2)
        ok, capped = self.run_action(namespace="prod", deployment="orders", delta=10,
                                     max_replicas=5)
        self.assertEqual(self.replicas(), 5)

    def test_transient_error_on_scale(self):
        self.twin.faults.fail("patch", "deployments/scale", status=500, count=1)
        ok, result = self.run_action(namespace="prod", deployment="orders", delta=1)
        self.assertTrue(result["changed"])
        self.assertEqual(self.replicas(), 3)


class RestartDeploymentTest(TwinActionTestCase):
    action_cls = RestartDeployment
    action_name = "restart_deployment"

    def test_rolling_restart_replaces_the_pods(self):
        before = {p["metadata"]["name"] for p in self.twin.pods("prod", "orders")}
        ok, result = self.run_action(namespace="prod", deployment="orders",
                                     incident_id="inc-3")
        self.assertTrue(result["changed"])
        tpl = self.twin.store.get("deployments", "prod", "orders")["spec"]["template"]
        self.assertEqual(tpl["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
                         result["restarted_at"])
        self.twin.steps(12)
        after = {p["metadata"]["name"] for p in self.twin.pods("prod", "orders")}
        self.assertFalse(before & after)
        ok, again = self.run_action(namespace="prod", deployment="orders",
                                    incident_id="inc-3")
        self.assertFalse(again["changed"])

    def test_dry_run(self):
        ok, result = self.run_action(namespace="prod", deployment="orders", dry_run=True)
        self.assertFalse(result["changed"])
        tpl = self.twin.store.get("deployments", "prod", "orders")["spec"]["template"]
        self.assertNotIn("annotations", tpl["metadata"])


class WaitForRolloutTest(TwinActionTestCase):
    action_cls = WaitForRollout
    action_name = "wait_for_rollout"

    def test_waits_until_the_rollback_completes(self):
        RollbackDeployment(config=self.twin.config(), action_service=self.action_service).run(
            namespace="prod", deployment="analytics-worker")
        ok, result = self.run_action(namespace="prod", deployment="analytics-worker",
                                     timeout_s=600, poll_s=15)
        self.assertTrue(ok)
        self.assertTrue(result["complete"])
        self.assertGreater(result["polls"], 1)
        self.assertGreater(result["waited_s"], 0)
        versions = {p["spec"]["containers"][0]["image"]
                    for p in self.twin.pods("prod", "analytics-worker")
                    if not p["metadata"].get("deletionTimestamp")}  # old ones may terminate
        self.assertEqual(versions, {"registry.local/analytics-worker:v1.4.1"})

    def test_times_out_when_pods_cannot_be_scheduled(self):
        self.twin.store.patch("nodes", None, "node-a", {"spec": {"unschedulable": True}})
        self.twin.store.patch("deployments", "prod", "orders", {"spec": {"replicas": 4}})
        ok, result = self.run_action(namespace="prod", deployment="orders", timeout_s=60,
                                     poll_s=15)
        self.assertFalse(ok)
        self.assertTrue(result["timed_out"])
        self.assertIn("not complete", result["error"])

    def test_a_passed_incident_deadline_ends_the_wait_after_one_poll(self):
        from lib import clock
        RollbackDeployment(config=self.twin.config(), action_service=self.action_service).run(
            namespace="prod", deployment="analytics-worker")
        ok, result = self.run_action(namespace="prod", deployment="analytics-worker",
                                     timeout_s=600, poll_s=15, deadline=clock.now() - 1)
        self.assertFalse(ok)
        self.assertTrue(result["timed_out"])
        self.assertEqual(result["polls"], 1)
        self.assertIn("not complete after 0.0s", result["error"])

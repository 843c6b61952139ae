"""drain_node on a twin with a real DaemonSet, a control-plane node with mirror pods, and pods
that take their whole grace period to stop: DaemonSet and mirror pods are skipped, and the
drain waits until the Terminating pods are really gone (or reports them)."""
from action_case import TwinActionTestCase
from drain_node import DrainNode
from twin_env import deployment, node

from twin.controllers import CONTROL_PLANE_LABEL, SHUTDOWN_ANNOTATION


class DrainWithDaemonsTest(TwinActionTestCase):
    action_cls = DrainNode
    action_name = "drain_node"
    with_workloads = False

    def setUp(self):
        super().setUp()
        store = self.twin.store
        slow = deployment("orders", replicas=2)
        slow["spec"]["template"]["metadata"]["annotations"] = {SHUTDOWN_ANNOTATION: "600"}
        slow["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 40
        store.create("deployments", slow)
        store.create("daemonsets", {
            "metadata": {"name": "node-exporter", "namespace": "monitoring"},
            "spec": {"selector": {"matchLabels": {"app": "node-exporter"}},
                     "template": {"metadata": {"labels": {"app": "node-exporter"}},
                                  "spec": {"containers": [{"name": "node-exporter",
                                                           "image": "prom/node-exporter"}]}}}})
        cp = node("cp-1", pool="control-plane")  # not in the MachineDeployment pool-1
        cp["metadata"]["labels"][CONTROL_PLANE_LABEL] = ""
        store.create("nodes", cp)
        self.twin.steps(4)

    def _on(self, name):
        return self.twin.pods_on(name)

    def test_skips_daemonset_pods_and_waits_for_terminating_pods(self):
        before = self._on("node-a")
        self.assertIn("monitoring/", " ".join(before))
        orders = [p for p in before if p.startswith("prod/orders-")]
        self.assertEqual(len(orders), 2)
        ok, result = self.run_action(node="node-a", timeout_s=120, poll_s=5)
        self.assertTrue(ok)
        self.assertEqual(sorted(result["evicted"]), orders)
        reasons = {s["pod"]: s["reason"] for s in result["skipped"]}
        ds_pod = [p for p in before if p.startswith("monitoring/node-exporter-")][0]
        self.assertEqual(reasons[ds_pod], "DaemonSet pod")
        self.assertEqual(result["still_running"], [])
        self.assertTrue(result["complete"])
        # it really waited out the 40 s grace period on the virtual clock
        self.assertGreaterEqual(sum(self.twin.time.slept), 40)
        self.assertEqual(self._on("node-a"), [ds_pod])

    def test_reports_pods_still_terminating_at_the_timeout(self):
        ok, result = self.run_action(node="node-a", timeout_s=10, poll_s=5)
        self.assertTrue(ok)
        self.assertEqual(sorted(result["still_running"]), sorted(result["evicted"]))
        self.assertFalse(result["complete"])

    def test_mirror_pods_on_a_control_plane_node_are_never_evicted(self):
        mirrors = self._on("cp-1")
        self.assertIn("kube-system/kube-apiserver-cp-1", mirrors)
        ok, result = self.run_action(node="cp-1", timeout_s=30, poll_s=5)
        self.assertTrue(ok)
        reasons = {s["pod"]: s["reason"] for s in result["skipped"]}
        for ref in mirrors:
            if ref.startswith("kube-system/"):
                self.assertEqual(reasons[ref], "mirror pod")
        self.assertEqual([r for r in result["evicted"] if r.startswith("kube-system/")], [])


class DrainUnreachableNodeTest(DrainWithDaemonsTest):
    """A node whose kubelet stopped reporting: evicted pods stay Terminating for ever there."""

    def test_does_not_wait_for_pods_no_kubelet_will_confirm(self):
        self.twin.store.mutate("nodes", None, "node-a", lambda n: n["status"].__setitem__(
            "conditions", [{"type": "Ready", "status": "Unknown",
                            "reason": "NodeStatusUnknown"}]))
        ok, result = self.run_action(node="node-a", timeout_s=300, poll_s=5)
        self.assertTrue(ok)
        self.assertEqual(len(result["evicted"]), 2)
        stuck = {"%s/%s" % (p["metadata"]["namespace"], p["metadata"]["name"])
                 for p in self.twin.store.terminating("pods")}
        self.assertEqual(stuck, set(result["evicted"]))  # still Terminating on the node
        self.assertEqual(result["still_running"], [])
        self.assertTrue(result["complete"])
        self.assertLess(sum(self.twin.time.slept), 60)  # it did not run out the 300 s

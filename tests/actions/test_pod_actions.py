"""capture_logs and restart_pod against the twin's API server."""
from action_case import TwinActionTestCase
from capture_logs import CaptureLogs, bounded
from restart_pod import RestartPod


def first_pod(twin, app):
    return twin.pods("prod", app)[0]["metadata"]["name"]


class CaptureLogsTest(TwinActionTestCase):
    action_cls = CaptureLogs
    action_name = "capture_logs"

    def test_current_and_previous_container_logs(self):
        pod = first_pod(self.twin, "analytics-worker")
        self.twin.store.append_log("prod", pod, "start v1.4.2\nheap 3.1G\nOOM imminent\n")
        self.twin.store.rotate_log("prod", pod)
        self.twin.store.append_log("prod", pod, "restarted\n")
        ok, result = self.run_action(namespace="prod", pod=pod)
        self.assertTrue(ok)
        self.assertEqual(result["container"], "analytics-worker")
        self.assertEqual(result["logs"]["current"]["text"], "restarted\n")
        self.assertIn("OOM imminent", result["logs"]["previous"]["text"])
        self.assertFalse(result["logs"]["previous"]["truncated"])

    def test_size_bound_keeps_the_end_of_the_log(self):
        pod = first_pod(self.twin, "orders")
        lines = "".join("line %04d %s\n" % (i, "x" * 40) for i in range(300))
        self.twin.store.append_log("prod", pod, lines)
        ok, result = self.run_action(namespace="prod", pod=pod, tail_lines=300, max_bytes=1000,
                                     previous=False)
        current = result["logs"]["current"]
        self.assertTrue(current["truncated"])
        self.assertLessEqual(current["bytes"], 1000)
        self.assertTrue(current["text"].endswith("line 0299 %s\n" % ("x" * 40)))
        self.assertTrue(current["text"].startswith("line "))  # cut on a line boundary
        self.assertNotIn("previous", result["logs"])

    def test_no_previous_container_is_reported_not_failed(self):
        pod = first_pod(self.twin, "orders")
        ok, result = self.run_action(namespace="prod", pod=pod)
        self.assertTrue(ok)
        self.assertFalse(result["logs"]["previous"]["available"])
        self.assertIn("400", result["logs"]["previous"]["error"])

    def test_missing_pod_fails_cleanly(self):
        ok, result = self.run_action(namespace="prod", pod="ghost")
        self.assertFalse(ok)
        self.assertEqual(result["status"], 404)

    def test_bounded_helper_handles_multibyte_text(self):
        out = bounded("é" * 100 + "\nend\n", 7)
        self.assertTrue(out["truncated"])
        self.assertEqual(out["text"], "end\n")


class RestartPodTest(TwinActionTestCase):
    action_cls = RestartPod
    action_name = "restart_pod"

    def test_evicts_and_the_replicaset_recreates(self):
        pod = first_pod(self.twin, "orders")
        ok, result = self.run_action(namespace="prod", pod=pod, incident_id="inc-2")
        self.assertTrue(ok)
        self.assertTrue(result["changed"])
        self.assertEqual(result["status"], "evicted")
        self.assertTrue(self.twin.store.get("pods", "prod", pod)["metadata"].get(
            "deletionTimestamp"))  # Terminating until the kubelet confirms
        self.twin.steps(1)
        names = [p["metadata"]["name"] for p in self.twin.pods("prod", "orders")]
        self.assertNotIn(pod, names)
        self.twin.steps(1)
        self.assertEqual(len(self.twin.pods("prod", "orders")), 2)
        ok, again = self.run_action(namespace="prod", pod=pod)
        self.assertTrue(ok)
        self.assertFalse(again["changed"])
        self.assertEqual(again["status"], "gone")

    def test_bare_daemonset_and_protected_pods_are_refused(self):
        for namespace, pod in (("prod", "debug-shell"), ("prod", "node-exporter-x1")):
            ok, result = self.run_action(namespace=namespace, pod=pod)
            self.assertFalse(ok, pod)
            self.assertEqual(result["status"], "refused")
            self.assertIn("%s/%s" % (namespace, pod), self.twin.pods_on("node-a"))
        ok, result = self.run_action(namespace="kube-system", pod="coredns-1")
        self.assertFalse(ok)
        self.assertEqual(result["error_type"], "input")

    def test_pdb_refusal_never_deletes(self):
        pod = first_pod(self.twin, "web")
        ok, result = self.run_action(namespace="prod", pod=pod, eviction_attempts=2,
                                     backoff_s=3)
        self.assertFalse(ok)
        self.assertEqual(result["status"], "refused")
        self.assertEqual(self.twin.time.slept, [3])
        self.assertIn(pod, [p["metadata"]["name"] for p in self.twin.pods("prod", "web")])

    def test_dry_run(self):
        pod = first_pod(self.twin, "orders")
        ok, result = self.run_action(namespace="prod", pod=pod, dry_run=True)
        self.assertTrue(ok)
        self.assertFalse(result["changed"])
        self.assertIn("evict pod", result["would"])
        self.assertIn(pod, [p["metadata"]["name"] for p in self.twin.pods("prod", "orders")])

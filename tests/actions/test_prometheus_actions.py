"""wait_for_condition and identify_top_memory_pods against a real Prometheus (the twin's
runner, fed by remote write at the virtual clock) and the twin's API server."""
import math
import unittest

from action_case import TwinActionTestCase
from identify_top_memory_pods import IdentifyTopMemoryPods
from twin.prometheus import PrometheusServer
from twin.promwrite import RemoteWriter, series_key
from wait_for_condition import WaitForCondition
from watch_symptom import WatchSymptom

GIB = 1024.0 ** 3


class PrometheusCase(TwinActionTestCase):
    prometheus = None

    @classmethod
    def setUpClass(cls):
        try:
            cls.prometheus = PrometheusServer().start()
        except RuntimeError as error:  # pragma: no cover - binary missing
            raise unittest.SkipTest("prometheus not available: %s" % error) from None
        cls.writer = RemoteWriter(cls.prometheus.url)

    @classmethod
    def tearDownClass(cls):
        cls.writer.close()
        cls.prometheus.stop()

    def config(self):
        return {"prometheus": {"url": self.prometheus.url, "timeout_s": 5}}

    def feed(self, name, labels, value_at):
        """Write `value_at(t)` now and after every virtual step the action sleeps through."""
        key = series_key(name, labels)
        time = self.twin.time
        self.writer.write_step(time.t, [(key, value_at(time.t))])
        original = time.sleep

        def sleep_and_write(seconds):
            end = time.t + seconds
            while time.t < end:
                original(min(15.0, end - time.t))
                self.writer.write_step(time.t, [(key, value_at(time.t))])

        time.sleep = sleep_and_write
        from lib import clock
        clock.set_time_source(time.now, sleep_and_write)


class WatchSymptomTest(PrometheusCase):
    """watch_symptom reads the detector's for_s from the pack config and the signal's onset."""

    action_cls = WatchSymptom
    action_name = "watch_symptom"
    with_workloads = False

    def signal(self, age_s):
        from lib import clock
        return {"detector": "error_rate", "first_detected": clock.isoformat(
            self.twin.time.t - age_s), "target": {"kind": "Service", "name": "api"}}

    def watch(self, value_at, age_s, **params):
        start = self.twin.time.t
        self.feed("svc_error_ratio", {"service": self._testMethodName},
                  lambda t: value_at(t - start))
        return self.run_action(config=self.config(), signal=self.signal(age_s),
                               query='svc_error_ratio{service="%s"}' % self._testMethodName,
                               threshold=0.05, **params)

    def test_a_blip_that_heals_is_cleared(self):
        ok, result = self.watch(lambda s: 0.3 if s < 30 else 0.0, age_s=20, hold_s=60)
        self.assertTrue(ok, result)
        self.assertEqual(result["state"], "cleared")
        self.assertEqual(result["for_s"], 120)  # error_rate's default persistence
        self.assertEqual(result["window_s"], 100)
        self.assertLess(result["watched_s"], result["window_s"])

    def test_a_lasting_error_rate_persists_after_its_persistence(self):
        ok, result = self.watch(lambda s: 0.3, age_s=20, hold_s=60)
        self.assertEqual(result["state"], "persists")
        self.assertGreaterEqual(result["watched_s"], 100)

    def test_a_symptom_older_than_its_persistence_is_not_watched(self):
        ok, result = self.watch(lambda s: 0.0, age_s=600)
        self.assertEqual((result["state"], result["watched_s"]), ("persists", 0.0))

    def test_what_the_watch_saw_goes_on_the_incident_timeline(self):
        from lib import incidents
        action = self.action(**self.config())
        book = incidents.Incidents(action.datastore(), 3600)
        book.create(incidents.new_record("inc-watch-1"))
        ok, result = self.watch(lambda s: 0.3 if s < 30 else 0.0, age_s=20,
                                incident_id="inc-watch-1", description="5xx ratio of api")
        self.assertEqual(result["state"], "cleared")
        entry = book.get("inc-watch-1")["timeline"][-1]
        self.assertEqual((entry["type"], entry["kind"], entry["outcome"]),
                         ("VERIFY", "hold", "cleared"))
        self.assertIn("5xx ratio of api: cleared by itself", entry["message"])

    def test_a_signal_without_its_detector_is_refused(self):
        ok, result = self.run_action(config=self.config(), signal={"target": {}}, query="up",
                                     threshold=1)
        self.assertFalse(ok)
        self.assertEqual(result["error_type"], "input")
        self.assertIn("detector", result["error"])


class WaitForConditionTest(PrometheusCase):
    action_cls = WaitForCondition
    action_name = "wait_for_condition"
    with_workloads = False

    def test_memory_below_70_percent_for_five_minutes(self):
        start = self.twin.time.t
        self.feed("node_mem_util", {"instance": self._testMethodName},
                  lambda t: max(40.0, 80.0 - 2.0 * (t - start) / 60.0))
        ok, result = self.run_action(config=self.config(),
                                     query='node_mem_util{instance="%s"}' % self._testMethodName,
                                     comparator="<", threshold=70, hold_s=300, timeout_s=1800,
                                     poll_s=15)
        self.assertTrue(ok, result.get("error"))
        self.assertTrue(result["met"])
        self.assertLess(result["value"], 70)
        first_met = self.twin.time.t - result["held_s"]
        self.assertGreaterEqual(first_met - start, 5 * 60)  # 80 -> 70 takes 5 minutes
        self.assertLessEqual(first_met - start, 5 * 60 + 15)
        self.assertGreaterEqual(result["held_s"], 300)
        self.assertTrue(any(not s["ok"] for s in result["samples"]))

    def test_a_flap_restarts_the_hold(self):
        start = self.twin.time.t

        def value(t):
            minute = (t - start) / 60.0
            return 90.0 if 3.0 <= minute < 4.0 else 50.0

        self.feed("node_mem_util", {"instance": self._testMethodName}, value)
        ok, result = self.run_action(config=self.config(),
                                     query='node_mem_util{instance="%s"}' % self._testMethodName,
                                     comparator="<", threshold=70, hold_s=300, timeout_s=1200,
                                     poll_s=15)
        self.assertTrue(result["met"])
        self.assertGreaterEqual(self.twin.time.t - start, 9 * 60)

    def test_nan_and_empty_answers_are_not_success(self):
        self.feed("node_mem_util", {"instance": self._testMethodName}, lambda t: math.nan)
        ok, result = self.run_action(config=self.config(),
                                     query='node_mem_util{instance="%s"}' % self._testMethodName,
                                     comparator="<", threshold=70, hold_s=0, timeout_s=60,
                                     poll_s=15)
        self.assertFalse(ok)
        self.assertFalse(result["met"])
        self.assertEqual(result["last_error"], "no data")
        self.assertIn("condition not met", result["error"])

    def test_prometheus_down_is_not_success(self):
        ok, result = self.run_action(config={"prometheus": {"url": "http://127.0.0.1:9",
                                                            "timeout_s": 1}},
                                     query="up", comparator=">", threshold=0, hold_s=0,
                                     timeout_s=30, poll_s=15)
        self.assertFalse(ok)
        self.assertFalse(result["met"])
        self.assertIn("unreachable", result["last_error"])
        self.assertEqual(result["polls"], 3)

    def test_a_blind_verification_stops_after_max_blind_s_not_its_timeout(self):
        ok, result = self.run_action(config={"prometheus": {"url": "http://127.0.0.1:9",
                                                            "timeout_s": 1}},
                                     query="up", comparator=">", threshold=0, hold_s=300,
                                     timeout_s=1200, poll_s=15, max_blind_s=120)
        self.assertFalse(ok)
        self.assertTrue(result["blind"])
        self.assertFalse(result["met"])
        self.assertGreaterEqual(result["waited_s"], 120)
        self.assertLess(result["waited_s"], 120 + 15)  # stopped at max_blind_s, not at 1200 s
        self.assertIn("Prometheus has not answered for 120", result["error"])

    def test_a_prometheus_outage_shorter_than_max_blind_s_is_waited_out(self):
        start = self.twin.time.t
        key = "node_mem_util"
        self.feed(key, {"instance": self._testMethodName}, lambda t: 50.0)
        from lib import condition_wait

        real_query = None

        def flaky(query):
            if self.twin.time.t - start < 90:
                raise RuntimeError("prometheus unreachable")
            return real_query(query)

        prom = self.action_cls(config=self.config(),
                               action_service=self.action_service).prom()
        real_query = prom.query
        try:
            result = condition_wait.wait(flaky, 'node_mem_util{instance="%s"}'
                                         % self._testMethodName, "<", 70, 60, 600, 15,
                                         blind_s=120)
        finally:
            prom.close()
        self.assertTrue(result["met"], result)
        self.assertFalse(result["blind"])

    def test_bad_comparator(self):
        ok, result = self.run_action(query="up", comparator="~", threshold=1)
        self.assertFalse(ok)
        self.assertEqual(result["error_type"], "input")


class IdentifyTopMemoryPodsTest(PrometheusCase):
    action_cls = IdentifyTopMemoryPods
    action_name = "identify_top_memory_pods"

    def test_ranks_pods_by_working_set(self):
        pods = [p["metadata"]["name"] for p in self.twin.store.pods_on_node("node-a")
                if p["metadata"]["namespace"] == "prod"]
        leak = next(p for p in pods if p.startswith("analytics-worker-"))
        samples = []
        for pod in pods:
            usage = 0.9 * GIB if pod == leak else 0.1 * GIB
            samples.append((series_key("container_memory_working_set_bytes", {
                "namespace": "prod", "pod": pod, "container": pod.split("-")[0],
                "node": "node-a"}), usage))
        self.writer.write_step(self.twin.time.t, samples)
        ok, result = self.run_action(config=self.config(), node="node-a", limit=3)
        self.assertTrue(ok)
        self.assertEqual(result["source"], "prometheus")
        self.assertEqual(result["top_pod"], leak)
        self.assertEqual(result["top_service"], "analytics-worker")
        self.assertEqual(len(result["pods"]), 3)
        self.assertEqual(result["pods"][0]["usage_pct_of_limit"], 90.0)
        self.assertTrue(result["pods"][0]["restartable"])

    def test_no_samples_for_the_node_falls_back_to_limits(self):
        ok, result = self.run_action(config=self.config(), node="node-b")
        self.assertTrue(ok)
        self.assertEqual(result["source"], "spec")
        self.assertIn("no working-set samples", result["error"])

    def test_falls_back_to_limits_when_prometheus_is_down(self):
        ok, result = self.run_action(config={"prometheus": {"url": "http://127.0.0.1:9",
                                                            "timeout_s": 1}}, node="node-a")
        self.assertTrue(ok)
        self.assertEqual(result["source"], "spec")
        self.assertIn("unreachable", result["error"])
        self.assertEqual(result["pods"][0]["limit_bytes"], GIB)

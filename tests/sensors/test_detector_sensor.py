"""DetectorSensor in BaseSensorTestCase style: dispatch, dedupe, re-arm, clear, flap damping,
degraded sources (Prometheus down/slow/5xx/garbage, stale or vanished data, API down)."""
import json
import os
import socket
import tempfile

from engine.payload_schema import st2_payload_validator
import yaml
from st2tests.base import BaseSensorTestCase

from detector_sensor import DetectorSensor
from lib import clock
from support.detector_fakes import FakePrometheus, matrix, vector

SENSOR_YAML = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "sensors", "detector_sensor.yaml")
T0 = 1795835842.0
ALL = ("memory_pressure", "memory_leak", "cpu_throttling", "crash_loop", "latency_anomaly",
       "error_rate", "disk_pressure", "connection_pool", "certificate_expiry",
       "node_not_ready")


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kubeconfig(port):
    handle = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "t",
                    "clusters": [{"name": "t", "cluster": {"server": "http://127.0.0.1:%d"
                                                           % port}}],
                    "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t"}}],
                    "users": [{"name": "t", "user": {}}]}, handle)
    handle.close()
    return handle.name


class World(object):
    """What the fake Prometheus reports: hot nodes, data age, NaN answers."""

    def __init__(self):
        self.hot = {}          # node -> utilisation %
        self.age = 5.0         # seconds since the newest sample (None = series vanished)
        self.crashing = []     # (namespace, pod, container)

    def answer(self, query, params):
        now = clock.now()
        if query.startswith("time() - max(timestamp("):
            return [] if self.age is None else [vector({}, self.age)]
        if self.age is None or self.age > 300:
            return []  # beyond Prometheus' 5 minute lookback: instant queries see nothing
        if params["path"].endswith("query_range"):
            if "node_memory" in query:
                return [matrix({"node": n}, [(now - 60 + 15 * i, u) for i in range(5)])
                        for n, u in self.hot.items()]
            return []
        if query.startswith("topk(50, 100 * (1 - node_memory"):
            return [vector({"node": n}, u) for n, u in self.hot.items()]
        if query.startswith("-100 * 60 * deriv(node_memory"):
            return [vector({"node": n}, 1.0) for n in self.hot]
        if ("kube_pod_container_status_restarts_total" in query
                and query.startswith("max_over_time")) or "waiting_reason" in query:
            return [vector({"namespace": ns, "pod": p, "container": c,
                            "reason": "CrashLoopBackOff"}, 9) for ns, p, c in self.crashing]
        return []


class DetectorSensorTest(BaseSensorTestCase):
    sensor_cls = DetectorSensor

    def setUp(self):
        super(DetectorSensorTest, self).setUp()
        self.now = T0
        clock.set_time_source(lambda: self.now)
        self.prom = FakePrometheus()
        self.world = World()
        self.prom.handler = self.world.answer
        self.kubeconfig = kubeconfig(closed_port())
        with open(SENSOR_YAML) as handle:
            self.trigger_schemas = {t["name"]: t["payload_schema"]
                                    for t in yaml.safe_load(handle)["trigger_types"]}

    def tearDown(self):
        self.prom.stop()
        os.unlink(self.kubeconfig)
        clock.reset()
        super(DetectorSensorTest, self).tearDown()

    def sensor(self, enabled=("memory_pressure",), **config):
        base = {"prometheus": {"url": self.prom.url, "timeout_s": 1},
                "kubernetes": {"kubeconfig": self.kubeconfig, "request_timeout_s": 1},
                "detectors": {name: {"enabled": name in enabled} for name in ALL}}
        base.update(config)
        sensor = self.get_sensor_instance(config=base)
        sensor.setup()
        return sensor

    def triggers(self, name=None):
        items = self.get_dispatched_triggers()
        for item in items:  # every payload matches its declared payload_schema
            short = item["trigger"].split(".", 1)[1]
            st2_payload_validator()(self.trigger_schemas[short]).validate(item["payload"])
        return [i["payload"] for i in items if name is None or i["trigger"] == name]

    def advance(self, seconds=30):
        self.now += seconds

    def test_poll_interval_default_and_configurable(self):
        self.assertEqual(self.sensor().get_poll_interval(), 30)
        self.assertEqual(self.sensor(poll_interval_s=45).get_poll_interval(), 45)

    def test_dispatches_one_trigger_per_condition_and_records_it(self):
        sensor = self.sensor()
        self.world.hot = {"gke-prod-pool-1-abc123": 91.0}
        sensor.poll()
        fired = self.triggers("self_healing.memory_pressure")
        self.assertEqual(len(fired), 1)
        payload = fired[0]
        self.assertEqual(payload["target"]["name"], "gke-prod-pool-1-abc123")
        self.assertEqual(payload["first_detected"], clock.isoformat(T0 - 60))
        self.assertEqual(payload["signal_id"],
                         "memory_pressure.node._.gke-prod-pool-1-abc123.%d" % (T0 - 60))
        recent = self.sensor_service.get_value(
            "self_healing.recent_signal." + payload["signal_id"], local=False)
        self.assertEqual(json.loads(recent)["summary"], payload["summary"])
        for _ in range(3):  # the condition goes on: no new trigger
            self.advance()
            sensor.poll()
        self.assertEqual(len(self.triggers("self_healing.memory_pressure")), 1)

    def test_clear_after_two_quiet_polls_then_rearm(self):
        sensor = self.sensor()
        self.world.hot = {"n1": 93.0}
        sensor.poll()
        self.world.hot = {}
        self.advance()
        sensor.poll()
        self.assertEqual(self.triggers("self_healing.signal_cleared"), [])
        self.advance()
        sensor.poll()
        cleared = self.triggers("self_healing.signal_cleared")
        self.assertEqual(len(cleared), 1)
        self.assertEqual(cleared[0]["target"]["name"], "n1")
        # long after (outside the flap window) the same condition fires again
        self.advance(3600)
        self.world.hot = {"n1": 95.0}
        sensor.poll()
        fired = self.triggers("self_healing.memory_pressure")
        self.assertEqual(len(fired), 2)
        self.assertNotEqual(fired[0]["signal_id"], fired[1]["signal_id"])

    def test_flapping_condition_is_damped(self):
        sensor = self.sensor()
        for _ in range(6):  # on for one poll, off for two, repeatedly
            self.world.hot = {"n1": 91.0}
            sensor.poll()
            self.world.hot = {}
            self.advance()
            sensor.poll()
            self.advance()
            sensor.poll()
            self.advance()
        # first trigger + max_flaps re-fires, then silence while it keeps flapping
        self.assertEqual(len(self.triggers("self_healing.memory_pressure")), 3)

    def test_prometheus_failures_degrade_once_and_recover(self):
        for mode in ("down", "slow", "500", "garbage", "badshape"):
            self.sensor_service.dispatched_triggers = []
            self.sensor_service.datastore_service._datastore_items.clear()
            sensor = self.sensor()
            self.world.hot = {"n1": 92.0}
            sensor.poll()
            if mode == "down":
                self.prom.stop()
            else:
                self.prom.mode = mode
                self.prom.delay_s = 1.3
            for _ in range(3):
                self.advance()
                sensor.poll()
            degraded = self.triggers("self_healing.sensor_degraded")
            self.assertEqual(len(degraded), 1, mode)
            self.assertEqual(degraded[0]["source"], "prometheus")
            self.assertTrue(degraded[0]["error"], mode)
            # no clear and no new signal fabricated while blind
            self.assertEqual(self.triggers("self_healing.signal_cleared"), [], mode)
            self.assertEqual(len(self.triggers("self_healing.memory_pressure")), 1, mode)
            if mode == "down":
                self.prom = FakePrometheus()
                self.prom.handler = self.world.answer
                continue
            self.prom.mode = "ok"
            self.advance()
            sensor.poll()  # recovered: the next outage is reported again
            self.prom.mode = "503"
            self.advance()
            sensor.poll()
            self.assertEqual(len(self.triggers("self_healing.sensor_degraded")), 2, mode)
            self.prom.mode = "ok"

    def test_stale_or_vanished_data_is_not_a_clear(self):
        sensor = self.sensor()
        self.world.hot = {"n1": 92.0}
        sensor.poll()
        self.world.age = 900.0  # exporter stuck: newest sample 15 minutes old
        for _ in range(3):
            self.advance()
            sensor.poll()
        self.world.age = None  # and then gone
        self.advance()
        sensor.poll()
        degraded = self.triggers("self_healing.sensor_degraded")
        self.assertEqual(len(degraded), 1)
        self.assertIn("stale", degraded[0]["error"])
        self.assertEqual(self.triggers("self_healing.signal_cleared"), [])

    def test_restarted_sensor_does_not_clear_on_vanished_data(self):
        self.world.hot = {"n1": 92.0}
        self.sensor().poll()
        self.world.age = None  # exporter gone while the sensor restarts
        restarted = self.sensor()
        for _ in range(3):
            self.advance()
            restarted.poll()
        self.assertEqual(self.triggers("self_healing.signal_cleared"), [])
        degraded = self.triggers("self_healing.sensor_degraded")
        self.assertEqual(len(degraded), 1)
        self.assertIn("vanished", degraded[0]["error"])

    def test_nan_only_answers_fabricate_nothing(self):
        sensor = self.sensor()
        self.prom.handler = lambda q, p: ([vector({}, 5)] if q.startswith("time()")
                                          else [vector({"node": "n1"}, "NaN")])
        sensor.poll()
        self.assertEqual(self.triggers(), [])

    def test_api_server_down_degrades_kubernetes_but_signal_still_fires(self):
        sensor = self.sensor(enabled=("crash_loop",))
        self.world.crashing = [("prod", "payments-6c7d8-aaaaa", "payments")]
        sensor.poll()
        self.advance()
        sensor.poll()
        fired = self.triggers("self_healing.crash_loop")
        self.assertEqual(len(fired), 1)
        self.assertIsNone(fired[0]["metadata"]["exit_code"])
        degraded = self.triggers("self_healing.sensor_degraded")
        self.assertEqual([d["source"] for d in degraded], ["kubernetes"])

    def test_bad_config_fails_setup_with_the_key(self):
        sensor = self.get_sensor_instance(config={"poll_interval_s": 1})
        with self.assertRaisesRegex(ValueError, "poll_interval_s"):
            sensor.setup()

"""configure_circuit_breaker, increase_pool_size_temporarily + revert_expired_changes,
restart_idle_connections and notify_dependents (real nats-server) against the twin."""
import asyncio
import json
import threading

from action_case import TwinActionTestCase
from configure_circuit_breaker import ConfigureCircuitBreaker
from increase_pool_size_temporarily import IncreasePoolSizeTemporarily
from notify_dependents import NotifyDependents
from restart_idle_connections import RestartIdleConnections
from revert_expired_changes import RevertExpiredChanges
from patched import run_script
from twin.natsd import NatsServer

DR = ("destinationrules", "prod")


class CircuitBreakerTest(TwinActionTestCase):
    action_cls = ConfigureCircuitBreaker
    action_name = "configure_circuit_breaker"

    def rules(self):
        return {d["metadata"]["name"]: d for d in self.twin.store.list(*DR)[0]}

    def test_creates_a_destination_rule_with_the_seed_values_and_reverts(self):
        ok, result = self.run_action(namespace="prod", service="checkout", upstream="payments",
                                     incident_id="inc-4")
        self.assertTrue(ok)
        self.assertTrue(result["changed"])
        rule = self.rules()["sh-cb-checkout-payments"]
        self.assertEqual(rule["spec"]["host"], "payments.prod.svc.cluster.local")
        self.assertEqual(rule["spec"]["workloadSelector"], {"matchLabels": {"app": "checkout"}})
        policy = rule["spec"]["trafficPolicy"]
        self.assertEqual(policy["outlierDetection"]["consecutive5xxErrors"], 3)
        self.assertEqual(policy["connectionPool"]["tcp"]["connectTimeout"], "5000ms")
        ann = rule["metadata"]["annotations"]
        self.assertEqual(ann["self-healing.io/fallback"], "cached_response")
        self.assertEqual(ann["self-healing.io/incident"], "inc-4")
        ok, again = self.run_action(namespace="prod", service="checkout", upstream="payments")
        self.assertFalse(again["changed"])
        ok, reverted = self.run_action(**result["revert"]["parameters"])
        self.assertTrue(reverted["changed"])
        self.assertEqual(reverted["mode"], "deleted")
        self.assertEqual(self.rules(), {})

    def test_an_existing_rule_is_patched_and_restored_exactly(self):
        original = {"host": "payments.prod.svc.cluster.local",
                    "trafficPolicy": {"loadBalancer": {"simple": "ROUND_ROBIN"}}}
        self.twin.store.create("destinationrules", {
            "apiVersion": "networking.istio.io/v1beta1", "kind": "DestinationRule",
            "metadata": {"name": "payments", "namespace": "prod"}, "spec": original})
        ok, result = self.run_action(namespace="prod", service="checkout", upstream="payments")
        self.assertEqual(result["mode"], "patched")
        rule = self.rules()["payments"]
        self.assertIn("outlierDetection", rule["spec"]["trafficPolicy"])
        self.assertEqual(rule["spec"]["trafficPolicy"]["loadBalancer"],
                         {"simple": "ROUND_ROBIN"})
        ok, reverted = self.run_action(namespace="prod", service="checkout",
                                       upstream="payments", revert=True)
        self.assertEqual(reverted["mode"], "restored")
        rule = self.rules()["payments"]
        self.assertEqual(rule["spec"], original)
        self.assertNotIn("self-healing.io/previous-spec", rule["metadata"].get("annotations"))

    def test_dry_run_and_api_errors(self):
        ok, result = self.run_action(namespace="prod", service="checkout", upstream="payments",
                                     dry_run=True)
        self.assertFalse(result["changed"])
        self.assertIn("create circuit breaker", result["would"])
        self.assertEqual(self.rules(), {})
        self.twin.faults.fail("create", "destinationrules", status=500)
        ok, failed = self.run_action(namespace="prod", service="checkout", upstream="payments")
        self.assertFalse(ok)
        self.assertEqual(failed["status"], 500)
        self.assertEqual(self.rules(), {})


class PoolSizeTest(TwinActionTestCase):
    action_cls = IncreasePoolSizeTemporarily
    action_name = "increase_pool_size_temporarily"

    def pool(self):
        return self.twin.store.get("configmaps", "prod", "orders-db-pool")

    def revert(self, **params):
        return RevertExpiredChanges(config=self.twin.config(),
                                    action_service=self.action_service).run(**params)

    def test_raise_then_revert_when_due(self):
        ok, result = self.run_action(namespace="prod", service="orders", multiplier=1.5,
                                     duration_minutes=30, incident_id="inc-5")
        self.assertTrue(ok)
        self.assertEqual((result["original"], result["value"]), (10, 15))
        self.assertEqual(self.pool()["data"]["maximumPoolSize"], "15")
        entry = json.loads(self.action_service.get_value(result["revert_key"], local=False))
        self.assertEqual(entry["original"], 10)
        ok, again = self.run_action(namespace="prod", service="orders", multiplier=1.5)
        self.assertFalse(again["changed"])  # never compounds
        self.assertEqual(self.pool()["data"]["maximumPoolSize"], "15")
        early = self.revert()
        self.assertEqual(early["reverted"], [])
        self.assertEqual(early["pending"], [result["revert_key"]])
        self.twin.time.t += 31 * 60
        done = self.revert()
        self.assertTrue(done["changed"])
        self.assertEqual(done["reverted"][0]["status"], "reverted")
        self.assertEqual(self.pool()["data"]["maximumPoolSize"], "10")
        self.assertNotIn("self-healing.io/pool-original",
                         self.pool()["metadata"].get("annotations") or {})
        self.assertIsNone(self.action_service.get_value(result["revert_key"], local=False))

    def test_a_value_changed_by_someone_else_is_left_alone(self):
        self.run_action(namespace="prod", service="orders")
        self.twin.store.patch("configmaps", "prod", "orders-db-pool",
                              {"data": {"maximumPoolSize": "40"}})
        self.twin.time.t += 31 * 60
        done = self.revert()
        self.assertEqual(done["reverted"][0]["status"], "changed_by_someone_else")
        self.assertEqual(self.pool()["data"]["maximumPoolSize"], "40")

    def test_revert_failure_keeps_the_entry_for_the_next_run(self):
        ok, result = self.run_action(namespace="prod", service="orders")
        self.twin.time.t += 31 * 60
        self.twin.faults.fail("patch", "configmaps", status=403)
        failed = self.revert()
        self.assertEqual(len(failed["errors"]), 1)
        self.assertIsNotNone(self.action_service.get_value(result["revert_key"], local=False))
        self.twin.faults.clear()
        self.assertEqual(self.revert()["reverted"][0]["status"], "reverted")

    def test_dry_run_and_bad_input(self):
        ok, result = self.run_action(namespace="prod", service="orders", dry_run=True)
        self.assertFalse(result["changed"])
        self.assertEqual(self.pool()["data"]["maximumPoolSize"], "10")
        self.assertEqual(self.action_service.list_values(local=False,
                                                         prefix="self_healing.revert."), [])
        ok, result = self.run_action(namespace="prod", service="nope")
        self.assertFalse(ok)
        self.assertEqual(result["status"], 404)


    def test_configured_configmap_name_and_key(self):
        self.twin.store.create("configmaps", {
            "metadata": {"name": "prod-orders-hikari", "namespace": "prod"},
            "data": {"hikari.maximum-pool-size": "8"}})
        config = {"metric_sources": {"pool_configmap": {
            "name": "$namespace-$service-hikari", "key": "hikari.maximum-pool-size"}}}
        ok, result = self.run_action(config=config, namespace="prod", service="orders",
                                     multiplier=1.5, duration_minutes=30)
        self.assertTrue(ok, result)
        self.assertEqual((result["configmap"], result["key"]),
                         ("prod-orders-hikari", "hikari.maximum-pool-size"))
        cm = self.twin.store.get("configmaps", "prod", "prod-orders-hikari")
        self.assertEqual(cm["data"]["hikari.maximum-pool-size"], "12")
        self.assertEqual(self.pool()["data"]["maximumPoolSize"], "10")  # convention untouched
        self.twin.time.t += 31 * 60
        done = RevertExpiredChanges(config=self.twin.config(**config),
                                    action_service=self.action_service).run()
        self.assertEqual(done["reverted"][0]["status"], "reverted")
        cm = self.twin.store.get("configmaps", "prod", "prod-orders-hikari")
        self.assertEqual(cm["data"]["hikari.maximum-pool-size"], "8")

    def test_a_configured_configmap_that_does_not_exist_is_refused(self):
        config = {"metric_sources": {"pool_configmap": {"name": "$service-pool-settings"}}}
        ok, result = self.run_action(config=config, namespace="prod", service="orders")
        self.assertFalse(ok)
        self.assertEqual(result["status"], 404)
        self.assertIn("orders-pool-settings does not exist", result["error"])
        self.assertIn("nothing was changed", result["error"])
        self.assertEqual(self.pool()["data"]["maximumPoolSize"], "10")
        self.assertEqual(self.action_service.list_values(local=False,
                                                         prefix="self_healing.revert."), [])

    def test_a_bad_configmap_template_is_a_config_error(self):
        config = {"metric_sources": {"pool_configmap": {"name": "db-pool"}}}
        ok, result = self.run_action(config=config, namespace="prod", service="orders")
        self.assertFalse(ok)
        self.assertEqual(result["error_type"], "config")
        self.assertIn("metric_sources.pool_configmap.name: missing placeholder(s) $service",
                      result["error"])


class RestartIdleConnectionsTest(TwinActionTestCase):
    action_cls = RestartIdleConnections
    action_name = "restart_idle_connections"

    def test_rolling_restart_of_the_holders(self):
        ok, result = self.run_action(namespace="prod", service="orders", incident_id="inc-6")
        self.assertTrue(result["changed"])
        self.assertEqual(result["deployment"], "orders")
        tpl = self.twin.store.get("deployments", "prod", "orders")["spec"]["template"]
        self.assertIn("kubectl.kubernetes.io/restartedAt", tpl["metadata"]["annotations"])


class NotifyDependentsTest(TwinActionTestCase):
    action_cls = NotifyDependents
    action_name = "notify_dependents"
    with_workloads = False

    def test_publishes_the_seed_message_to_each_dependent(self):
        server = NatsServer().start()
        self.addCleanup(server.stop)
        received = []
        ready = threading.Event()

        async def listen():
            import nats

            async def collect(msg):
                received.append((msg.subject, json.loads(msg.data.decode())))

            conn = await nats.connect(server.url)
            await conn.subscribe("agents.*.warning", cb=collect)
            await conn.flush()
            ready.set()
            for _ in range(100):
                if len(received) >= 2:
                    break
                await asyncio.sleep(0.02)
            await conn.close()

        thread = threading.Thread(target=lambda: asyncio.run(listen()))
        thread.start()
        ready.wait(5)
        config = {"nats": {"url": server.url},
                  "dependencies": {"checkout": ["payments"], "orders": ["payments"]}}
        ok, result = self.run_action(config=config, service="payments", incident_id="inc-8")
        thread.join(5)
        self.assertTrue(ok)
        self.assertEqual(result["failed"], [])
        self.assertEqual(sorted(result["published"]),
                         ["agents.checkout.warning", "agents.orders.warning"])
        by_subject = dict(received)
        self.assertEqual(sorted(by_subject), sorted(result["published"]))
        message = by_subject["agents.orders.warning"]
        self.assertEqual(message["type"], "upstream_degradation")
        self.assertEqual(message["upstream"], "payments")
        self.assertEqual(message["recommendation"], "activate_fallback")
        self.assertEqual(message["estimated_recovery"], "15m")
        self.assertEqual(message["incident_id"], "inc-8")
        self.assertEqual(message["timestamp"], "2026-11-28T03:17:22Z")

    def _listen(self, server, subjects, received):
        """Collect messages on `subjects` in a thread of this (unpatched) process."""
        ready = threading.Event()

        async def listen():
            import nats

            async def collect(msg):
                received.append((msg.subject, json.loads(msg.data.decode())))

            conn = await nats.connect(server.url)
            await conn.subscribe(subjects, cb=collect)
            await conn.flush()
            ready.set()
            for _ in range(250):
                if len(received) >= 2:
                    break
                await asyncio.sleep(0.02)
            await conn.close()

        thread = threading.Thread(target=lambda: asyncio.run(listen()))
        thread.start()
        self.assertTrue(ready.wait(5))
        return thread

    def test_publishes_when_eventlet_patched_in_its_own_process(self):
        """As StackStorm runs it (engine worker child, patched) and with another green thread
        of the process running an asyncio loop (as under st2tests): asyncio.run() would fail
        there with "cannot be called from a running event loop"."""
        server = NatsServer().start()
        self.addCleanup(server.stop)
        config = {"nats": {"url": server.url}}
        for busy in (False, True):
            received = []
            thread = self._listen(server, "agents.*.warning", received)
            if busy:
                out = run_script("notify_dependents", self.twin.config(**config), {
                    "service": "payments", "dependents": ["checkout", "orders"],
                    "incident_id": "inc-9"}, busy_asyncio_loop=True)
                self.assertTrue(out["patched"])
                self.assertNotIn("exception", out, out.get("traceback"))
                ok, result = out["ok"], out["result"]
            else:
                ok, result = self.run_action_patched(
                    config=config, service="payments", dependents=["checkout", "orders"],
                    incident_id="inc-9")
            thread.join(10)
            self.assertTrue(ok, result)
            self.assertEqual(result["failed"], [])
            self.assertEqual(sorted(s for s, _ in received),
                             ["agents.checkout.warning", "agents.orders.warning"])
            self.assertEqual(received[0][1]["incident_id"], "inc-9")

    def test_nats_down_is_reported_not_raised(self):
        ok, result = self.run_action(config={"nats": {"url": "nats://127.0.0.1:9"}},
                                     service="payments", dependents=["checkout"],
                                     connect_timeout_s=0.5)
        self.assertTrue(ok)
        self.assertFalse(result["changed"])
        self.assertEqual(result["published"], [])
        self.assertEqual(result["failed"][0]["subject"], "agents.checkout.warning")
        self.assertIn("cannot connect", result["failed"][0]["error"])

    def test_dry_run_lists_subjects(self):
        ok, result = self.run_action(service="payments", dependents=["a", "b"], dry_run=True)
        self.assertEqual(result["subjects"], ["agents.a.warning", "agents.b.warning"])
        self.assertFalse(result["changed"])

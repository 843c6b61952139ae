"""reconcile_incidents: a stalled incident is closed and its cordon undone; live ones are not."""
from action_case import TwinActionTestCase
from reconcile_incidents import ReconcileIncidents
from support.st2_fakes import FakeSt2Client

from lib import clock, incidents
from lib.datastore import Datastore


class ReconcileIncidentsTest(TwinActionTestCase):
    action_cls = ReconcileIncidents
    action_name = "reconcile_incidents"

    def records(self):
        self.get_action_instance(config=self.twin.config())  # creates self.action_service
        return incidents.Incidents(Datastore(self.action_service))

    def open_incident(self, records, incident_id, status="remediating", owners=None):
        record = incidents.new_record(incident_id, playbook="memory_pressure_node",
                                      created_at=clock.isoformat(clock.now()),
                                      workflow_executions=list(owners or []))
        record["status"] = status
        records.create(record)

    def cordon(self, node, incident_id):
        self.twin.store.patch("nodes", None, node, {
            "metadata": {"annotations": {"self-healing.io/cordoned-by": "self-healing",
                                         "self-healing.io/incident": incident_id,
                                         "self-healing.io/cordoned-at":
                                             clock.isoformat(clock.now())}},
            "spec": {"unschedulable": True}})

    def unschedulable(self, node):
        return bool(self.twin.store.get("nodes", None, node)["spec"].get("unschedulable"))

    def run_with(self, records, client=None, **params):
        action = self.action_cls(config=self.twin.config(), action_service=self.action_service)
        action.client = client
        out = action.run(**params)
        return out if isinstance(out, tuple) else (True, out)

    def test_an_incident_whose_workflow_was_cancelled_is_closed_at_once(self):
        records = self.records()
        self.open_incident(records, "inc-cancelled", owners=["wf-1"])
        self.cordon("node-a", "inc-cancelled")
        clock.sleep(60)  # far below stale_after_s
        ok, result = self.run_with(records, FakeSt2Client({"wf-1": "canceled"}))
        self.assertTrue(ok, result)
        self.assertEqual(result["closed"], ["inc-cancelled"])
        self.assertFalse(self.unschedulable("node-a"))
        record = records.get("inc-cancelled")
        self.assertEqual(record["status"], "failed")
        text = " ".join(e["message"] for e in record["timeline"])
        self.assertIn("execution wf-1 canceled", text)

    def test_a_workflow_stackstorm_no_longer_knows_ended(self):
        """After a restart with an empty execution history, get_by_id answers None (404)."""
        records = self.records()
        self.open_incident(records, "inc-restarted", owners=["wf-gone"])
        clock.sleep(60)
        ok, result = self.run_with(records, FakeSt2Client({}))
        self.assertEqual(result["closed"], ["inc-restarted"])
        self.assertIn("unknown to StackStorm",
                      records.get("inc-restarted")["timeline"][-1]["message"])

    def test_a_running_or_paused_workflow_keeps_its_incident(self):
        records = self.records()
        self.open_incident(records, "inc-running", owners=["wf-1"])
        self.open_incident(records, "inc-paused", owners=["wf-2"])
        self.open_incident(records, "inc-two", owners=["wf-3", "wf-4"])  # one still runs
        clock.sleep(60)
        client = FakeSt2Client({"wf-1": "running", "wf-2": "paused", "wf-3": "failed",
                                "wf-4": "running"})
        ok, result = self.run_with(records, client)
        self.assertEqual(result["closed"], [])
        for incident_id in ("inc-running", "inc-paused", "inc-two"):
            self.assertEqual(records.get(incident_id)["status"], "remediating")

    def test_when_the_api_cannot_say_staleness_decides(self):
        records = self.records()
        self.open_incident(records, "inc-unsure", owners=["wf-1"])
        clock.sleep(60)
        broken = FakeSt2Client({"wf-1": "canceled"}, error=RuntimeError("API down"))
        ok, result = self.run_with(records, broken)
        self.assertEqual(result["closed"], [])
        ok, result = self.run_with(records, None)  # no StackStorm API in the environment
        self.assertEqual(result["closed"], [])
        clock.sleep(1900)
        ok, result = self.run_with(records, broken)
        self.assertEqual(result["closed"], ["inc-unsure"])

    def test_stalled_incident_is_closed_and_its_cordon_undone(self):
        records = self.records()
        self.open_incident(records, "inc-stalled")
        self.cordon("node-a", "inc-stalled")
        clock.sleep(1900)
        ok, result = self.run_with(records)
        self.assertTrue(ok, result)
        self.assertEqual(result["closed"], ["inc-stalled"])
        self.assertFalse(self.unschedulable("node-a"))
        record = records.get("inc-stalled")
        self.assertEqual(record["status"], "failed")
        self.assertIn("uncordoned node-a", " ".join(e["message"] for e in record["timeline"]))

    def test_closing_a_stalled_incident_re_arms_its_signal(self):
        records = self.records()
        self.open_incident(records, "inc-stalled")
        record = records.get("inc-stalled")
        record["signals"] = ["sig-1"]
        records.save(record)
        store = Datastore(self.action_service)
        store.set_json("self_healing.signal.memory_pressure.node._.node-a",
                       {"state": "open", "signal_id": "sig-1"})
        store.set_json("self_healing.signal.disk_pressure.node._.node-b",
                       {"state": "open", "signal_id": "sig-other"})
        clock.sleep(1900)
        ok, result = self.run_with(records)
        self.assertTrue(ok, result)
        self.assertIsNone(store.get_json("self_healing.signal.memory_pressure.node._.node-a",
                                         None))
        self.assertIsNotNone(store.get_json("self_healing.signal.disk_pressure.node._.node-b",
                                            None))

    def test_a_live_incident_and_a_human_cordon_are_left_alone(self):
        records = self.records()
        self.open_incident(records, "inc-live")
        self.cordon("node-a", "inc-live")
        self.twin.store.patch("nodes", None, "node-b", {"spec": {"unschedulable": True}})
        clock.sleep(120)
        ok, result = self.run_with(records)
        self.assertTrue(ok, result)
        self.assertEqual(result["closed"], [])
        self.assertTrue(self.unschedulable("node-a"))
        self.assertTrue(self.unschedulable("node-b"))
        self.assertEqual(records.get("inc-live")["status"], "remediating")

    def test_escalated_incidents_belong_to_humans(self):
        records = self.records()
        self.open_incident(records, "inc-human", status="escalated")
        self.cordon("node-a", "inc-human")
        clock.sleep(4000)
        ok, result = self.run_with(records)
        self.assertTrue(ok, result)
        self.assertEqual(result["closed"], [])
        self.assertTrue(self.unschedulable("node-a"))

    def test_dry_run_changes_nothing(self):
        records = self.records()
        self.open_incident(records, "inc-stalled")
        self.cordon("node-a", "inc-stalled")
        clock.sleep(1900)
        ok, result = self.run_with(records, dry_run=True)
        self.assertTrue(ok, result)
        self.assertTrue(self.unschedulable("node-a"))
        self.assertEqual(records.get("inc-stalled")["status"], "remediating")

    def test_the_kill_switch_stops_reconcile_too(self):
        records = self.records()
        self.open_incident(records, "inc-stalled")
        self.cordon("node-a", "inc-stalled")
        Datastore(self.action_service).set_json("self_healing.kill_switch", {"engaged": True})
        clock.sleep(1900)
        ok, result = self.run_with(records)
        self.assertTrue(ok, result)
        self.assertEqual(result["closed"], [])
        self.assertTrue(self.unschedulable("node-a"))

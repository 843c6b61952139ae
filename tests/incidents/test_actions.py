"""The gate, diagnosis, incident and chat actions through StackStorm's Action interface."""
import http.server
import json
import os
import threading

import jsonschema
import yaml
from st2tests.base import BaseActionTestCase

from check_policy import CheckPolicy
from create_fix_task import CreateFixTask
from create_incident_report import CreateIncidentReport
from diagnose import Diagnose
from effectiveness_report import EffectivenessReport
from get_status import GetStatus
from lib import clock, incidents
from list_incidents import ListIncidents
from mark_false_positive import MarkFalsePositive
from record_timeline import RecordTimeline
from respond_to_plan import RespondToPlan
from set_incident_status import SetIncidentStatus
from set_kill_switch import SetKillSwitch
from shadow_report import ShadowReport
from show_incident import ShowIncident
from support.diagnosis_fakes import GB, FakeFacts, linear, revisions
from support.healing_fakes import T0, FakeCluster, FakeKube, FixedClock, node

ACTIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir,
                           "actions")
NODE = "gke-prod-pool-1-abc123"
NS = "production"
CONFIG = {"mode": "autonomous"}
SEED_SIGNAL = {
    "signal_id": "memory_pressure.node._.%s.%d" % (NODE, int(T0)),
    "detector": "memory_pressure",
    "target": {"kind": "Node", "namespace": "", "name": NODE, "node": NODE},
    "service": "", "severity": "high",
    "first_detected": "2026-11-28T03:17:22Z", "detected_at": "2026-11-28T03:17:22Z",
    "summary": "Memory pressure on node %s: 91%% (+2%%/min), projected OOM in 4.5 min" % NODE,
    "evidence": {"query": "", "values": {}},
    "metadata": {"utilization_pct": 91.0}}


def seed_facts():
    deploy_at = T0 - 47 * 60
    return FakeFacts(
        deploys={(NS, "analytics-worker"): revisions((5, deploy_at, "v1.4.2"),
                                                      (4, T0 - 9 * 86400, "v1.4.1"))},
        pods={NODE: [{"namespace": NS, "pod": "analytics-worker-7f8d9",
                      "service": "analytics-worker", "memory_bytes": 3.2 * GB,
                      "limit_bytes": 4 * GB},
                     {"namespace": NS, "pod": "web-1", "service": "web",
                      "memory_bytes": 0.3 * GB, "limit_bytes": GB}]},
        node_totals={NODE: 4.1 * GB},
        series={(NS, "analytics-worker-7f8d9"): linear(deploy_at, T0, 1.0 * GB, 3.2 * GB)})


def output_schema(name):
    with open(os.path.join(ACTIONS_DIR, name + ".yaml")) as handle:
        return yaml.safe_load(handle)["output_schema"]


class ChainClient(object):
    """st2client look-alike: `executions.get_by_id` gives a model with status and context
    (parent execution) for a known id, None for an unknown one (HTTP 404), or raises."""

    def __init__(self, known, error=None):
        self.executions = self
        self.known, self.error = known, error

    def get_by_id(self, execution_id, **kwargs):
        if self.error is not None:
            raise self.error
        if execution_id not in self.known:
            return None
        value = self.known[execution_id]
        status, parent = value if isinstance(value, tuple) else (value, "")
        context = {"parent": {"execution_id": parent}} if parent else {}
        return type("LiveAction", (), {"id": execution_id, "status": status,
                                       "context": context})()


class PackActionCase(BaseActionTestCase):
    """Runs actions on a shared mock action service (one datastore) under a fixed clock."""

    action_cls = Diagnose

    def setUp(self):
        super(PackActionCase, self).setUp()
        self.fake_clock = FixedClock().install()
        self.addCleanup(clock.reset)

    def run_action(self, cls, config=None, schema=True, **params):
        action = cls(config=dict(config or CONFIG), action_service=self.action_service)
        if cls is Diagnose:
            action.facts = seed_facts()
        if cls is CheckPolicy:
            action.cluster = getattr(self, "cluster", FakeCluster([node(NODE), node("n2")]))
            action.events_kube = getattr(self, "kube", FakeKube())
        if cls is GetStatus:
            action.cluster = FakeCluster([node(NODE, cordoned_by_healer=True)])
        result = action.run(**params)
        if schema and not isinstance(result, tuple):
            jsonschema.Draft4Validator(output_schema(_name(cls))).validate(result)
        return result

    def diagnose_seed(self):
        return self.run_action(Diagnose, signal=SEED_SIGNAL)


def _name(cls):
    return {Diagnose: "diagnose", CheckPolicy: "check_policy", RecordTimeline: "record_timeline",
            SetIncidentStatus: "set_incident_status",
            CreateIncidentReport: "create_incident_report", CreateFixTask: "create_fix_task",
            SetKillSwitch: "set_kill_switch", GetStatus: "get_status",
            ListIncidents: "list_incidents", ShowIncident: "show_incident",
            MarkFalsePositive: "mark_false_positive",
            EffectivenessReport: "effectiveness_report", ShadowReport: "shadow_report",
            RespondToPlan: "respond_to_plan"}[cls]


class TestSeedStory(PackActionCase):
    def test_the_seed_incident_end_to_end(self):
        self.fake_clock.t = T0 + 1
        diag = self.diagnose_seed()
        inc = diag["incident_id"]
        assert inc.startswith("inc-20261128-031722-")
        assert diag["root_cause"]["summary"] == "memory leak in analytics-worker v1.4.2"
        assert diag["playbook"] == "memory_pressure_node" and diag["joined"] is False
        self.fake_clock.t = T0 + 3
        self.run_action(RecordTimeline, incident_id=inc, type="PLAN",
                        message="1. cordon the node, 2. roll analytics-worker back to v1.4.1, "
                                "3. monitor recovery. Risk: MEDIUM")
        self.fake_clock.t = T0 + 4
        gate = self.run_action(CheckPolicy, playbook="memory_pressure_node", step="cordon_node",
                               risk="low", target={"kind": "Node", "name": NODE},
                               incident_id=inc)
        assert gate["decision"] == "execute"
        self.run_action(SetIncidentStatus, incident_id=inc, status="remediating")
        self.run_action(RecordTimeline, incident_id=inc, type="EXECUTE",
                        message="cordon %s" % NODE, kind="step", step="cordon_node",
                        action_ref="self_healing.cordon_node",
                        target={"kind": "Node", "name": NODE})
        self.fake_clock.t = T0 + 5
        gate = self.run_action(CheckPolicy, playbook="memory_pressure_node",
                               step="rollback_deployment", risk="medium",
                               target={"kind": "Deployment", "namespace": NS,
                                       "name": "analytics-worker"}, incident_id=inc)
        assert gate["decision"] == "execute" and gate["budget_left"] == 1
        self.run_action(RecordTimeline, incident_id=inc, type="EXECUTE",
                        message="rollout undo deployment/analytics-worker", kind="step",
                        step="rollback_deployment",
                        action_ref="self_healing.rollback_deployment")
        self.fake_clock.t = T0 + 143
        self.run_action(SetIncidentStatus, incident_id=inc, status="verifying")
        self.run_action(RecordTimeline, incident_id=inc, type="VERIFY",
                        message="memory dropping; node at 72% and falling", kind="step")
        self.fake_clock.t = T0 + 278
        self.run_action(RecordTimeline, incident_id=inc, type="EXECUTE",
                        message="uncordon %s" % NODE, kind="step", step="uncordon_node",
                        action_ref="self_healing.uncordon_node")
        self.fake_clock.t = T0 + 279
        task = self.run_action(CreateFixTask, incident_id=inc,
                               title="Investigate the memory leak in analytics-worker v1.4.2")
        assert task["changed"] is True and task["delivered"] is False
        assert "no fix_task_webhook configured" in task["summary"]
        self.run_action(RecordTimeline, incident_id=inc, type="TASK",
                        message="follow-up for the DevOps team")
        done = self.run_action(SetIncidentStatus, incident_id=inc, status="resolved")
        assert len(done["released_locks"]) == 2
        report = self.run_action(CreateIncidentReport, incident_id=inc)
        assert report["channel"] == "#incidents"
        assert "Self-healed: Memory pressure on node %s" % NODE in report["text"]
        assert "memory leak in analytics-worker v1.4.2" in report["text"]
        assert "total 4 min 39 s" in report["text"]
        assert "Investigate the memory leak" in report["text"]
        shown = self.run_action(ShowIncident, incident_id=inc)
        assert [line[:17] for line in shown["timeline"]] == [
            "03:17:22 DETECT: ", "03:17:23 DIAGNOSE", "03:17:25 PLAN: 1.", "03:17:26 EXECUTE:",
            "03:17:27 EXECUTE:", "03:19:45 VERIFY: ", "03:22:00 EXECUTE:", "03:22:01 TASK: fo"]
        assert "deployed 47 min before onset" in shown["text"]
        metrics = self.run_action(EffectivenessReport, days=30)["metrics"]
        assert metrics["incidents_detected"] == 1 and metrics["auto_remediated"] == 1
        assert metrics["mttr_s"] == 143 and metrics["successful_rollbacks"] == 1

    def test_a_second_symptom_joins_the_open_incident(self):
        first = self.diagnose_seed()
        crash = {"signal_id": "crash_loop.pod.production.analytics-worker-7f8d9.1",
                 "detector": "crash_loop",
                 "target": {"kind": "Pod", "namespace": NS, "name": "analytics-worker-7f8d9",
                            "node": NODE},
                 "service": "analytics-worker", "severity": "high",
                 "first_detected": "2026-11-28T03:18:00Z",
                 "detected_at": "2026-11-28T03:18:00Z", "summary": "crash loop (OOMKilled)"}
        second = self.run_action(Diagnose, signal=crash)
        assert second["joined"] is True and second["incident_id"] == first["incident_id"]
        record = self.run_action(ShowIncident, incident_id=first["incident_id"])["incident"]
        assert crash["signal_id"] in record["signals"]
        assert record["timeline"][-1]["message"].startswith("crash loop (OOMKilled) (joined")
        listed = self.run_action(ListIncidents, status="active")
        assert listed["count"] == 1

    def test_a_cause_arriving_later_refines_the_incident_and_names_its_playbook(self):
        base = {"target": {"kind": "Service", "namespace": NS, "name": "orders-api",
                           "node": ""}, "service": "orders-api", "severity": "high",
                "first_detected": "2026-11-28T03:10:00Z",
                "detected_at": "2026-11-28T03:10:00Z"}
        latency = dict(base, signal_id="lat.1", detector="latency_anomaly",
                       summary="p99 of orders-api 3x baseline")
        pool = dict(base, signal_id="pool.1", detector="connection_pool",
                    summary="pool of orders-api full", detected_at="2026-11-28T03:12:00Z")
        first = self.run_action(Diagnose, signal=latency)
        second = self.run_action(Diagnose, signal=pool)
        assert second["incident_id"] == first["incident_id"]
        assert (second["joined"], second["refined"]) == (False, True)
        assert second["playbook"] == "connection_pool_exhaustion"
        record = self.run_action(ShowIncident, incident_id=first["incident_id"])["incident"]
        assert record["root_cause"]["signal_id"] == "pool.1"
        assert record["timeline"][-1]["type"] == "DIAGNOSE"
        assert record["timeline"][-1]["message"].startswith("root cause refined")

    def test_bad_signal_is_refused(self):
        ok, result = self.run_action(Diagnose, signal={"target": "x"})
        assert ok is False and "signal" in result["error"]

    def diagnose_in(self, execution_id, known, signal, error=None):
        """Diagnose as StackStorm runs it: its own execution id exported, parents via the API."""
        from unittest import mock

        action = Diagnose(config=dict(CONFIG), action_service=self.action_service)
        action.facts = seed_facts()
        action.client = ChainClient(known, error)
        with mock.patch.dict(os.environ, {"ST2_ACTION_EXECUTION_ID": execution_id}):
            return action.run(signal=signal)

    def test_the_incident_records_the_workflows_that_run_it(self):
        chain = {"diag-1": ("running", "sub-1"), "sub-1": ("running", "wf-root"),
                 "wf-root": "running", "diag-2": ("running", "wf-other"),
                 "wf-other": "running"}
        first = self.diagnose_in("diag-1", chain, SEED_SIGNAL)
        record = self.run_action(ShowIncident, incident_id=first["incident_id"])["incident"]
        assert record["workflow_executions"] == ["wf-root"]  # the playbook, not a sub-workflow
        crash = dict(SEED_SIGNAL, signal_id="crash_loop.pod.production.x.1",
                     detector="crash_loop", summary="crash loop",
                     target={"kind": "Pod", "namespace": NS, "name": "analytics-worker-7f8d9",
                             "node": NODE}, service="analytics-worker")
        second = self.diagnose_in("diag-2", chain, crash)
        assert second["incident_id"] == first["incident_id"]
        record = self.run_action(ShowIncident, incident_id=first["incident_id"])["incident"]
        assert record["workflow_executions"] == ["wf-root", "wf-other"]

    def test_no_owner_is_recorded_when_the_api_cannot_say(self):
        first = self.diagnose_in("diag-1", {}, SEED_SIGNAL, error=RuntimeError("API down"))
        record = self.run_action(ShowIncident, incident_id=first["incident_id"])["incident"]
        assert record["workflow_executions"] == []
        chain = {"diag-2": ("running", "sub-1")}  # sub-1 unknown: the root cannot be named
        second = self.diagnose_in("diag-2", chain, SEED_SIGNAL)
        record = self.run_action(ShowIncident, incident_id=second["incident_id"])["incident"]
        assert record["workflow_executions"] == []


class TestGateAction(PackActionCase):
    def test_modes(self):
        target = {"kind": "Node", "name": NODE}
        args = dict(playbook="memory_pressure_node", step="cordon_node", risk="low",
                    target=target, incident_id="inc-1")
        assert self.run_action(CheckPolicy, config={"mode": "observe"}, **args)[
            "decision"] == "deny"
        dry = self.run_action(CheckPolicy, config={"mode": "dry_run"}, **args)
        assert (dry["decision"], dry["dry_run"]) == ("execute", True)
        high = self.run_action(CheckPolicy, **dict(args, risk="high"))
        assert high["decision"] == "escalate"

    def test_kill_switch_from_chat_stops_the_gate_and_resumes(self):
        args = dict(playbook="memory_pressure_node", step="cordon_node", risk="low",
                    target={"kind": "Node", "name": NODE}, incident_id="inc-1")
        paused = self.run_action(SetKillSwitch, engaged=True, reason="game day", by="ana")
        assert "paused" in paused["text"]
        denied = self.run_action(CheckPolicy, **args)
        assert denied["decision"] == "deny" and "game day" in denied["reason"]
        status = self.run_action(GetStatus)
        assert status["kill_switch"]["engaged"] is True and "paused by ana" in status["text"]
        self.run_action(SetKillSwitch, engaged=False, by="ana")
        assert self.run_action(CheckPolicy, **args)["decision"] == "execute"

    def test_unreachable_cluster_fails_closed_and_event_errors_do_not_flip(self):
        self.cluster = FakeCluster(fail="meta")
        result = self.run_action(CheckPolicy, playbook="pod_crash_loop", step="restart_pod",
                                 risk="low", target={"kind": "Pod", "namespace": NS,
                                                     "name": "p-1"})
        assert result["decision"] == "deny" and "cannot verify" in result["reason"]
        self.cluster = FakeCluster()
        self.kube = FakeKube(fail=True)
        result = self.run_action(CheckPolicy, playbook="pod_crash_loop", step="restart_pod",
                                 risk="low", target={"kind": "Pod", "namespace": NS,
                                                     "name": "p-1"})
        assert result["decision"] == "execute" and result["event_error"]

    def test_missing_target_is_denied_not_crashed(self):
        result = self.run_action(CheckPolicy, playbook="memory_leak", step="restart_pod",
                                 risk="low", target={})
        assert result["decision"] == "deny" and "missing target" in result["reason"]

    def test_shadow_report_lists_dry_runs(self):
        for step in ("cordon_node", "evict_pods"):
            self.run_action(CheckPolicy, config={"mode": "dry_run"},
                            playbook="memory_pressure_node", step=step,
                            risk="low" if step == "cordon_node" else "high",
                            target={"kind": "Node", "name": NODE}, incident_id="inc-1")
        shadow = self.run_action(ShadowReport, hours=1)
        assert [s["step"] for s in shadow["would_execute"]] == ["cordon_node"]
        assert [s["step"] for s in shadow["would_escalate"]] == ["evict_pods"]


class TestRecordsActions(PackActionCase):
    def test_illegal_transition_and_unknown_incident_fail_clearly(self):
        inc = self.diagnose_seed()["incident_id"]
        ok, result = self.run_action(SetIncidentStatus, incident_id=inc, status="verifying")
        assert ok is False and "illegal transition open -> verifying" in result["error"]
        ok, result = self.run_action(RecordTimeline, incident_id="inc-404", type="VERIFY",
                                     message="x")
        assert ok is False and "unknown incident" in result["error"]

    def test_mark_false_positive_counts_in_effectiveness(self):
        inc = self.diagnose_seed()["incident_id"]
        marked = self.run_action(MarkFalsePositive, incident_id=inc, reason="load test",
                                 by="ana")
        assert marked["false_positive"] is True
        metrics = self.run_action(EffectivenessReport, days=1)["metrics"]
        assert metrics["false_positive_rate_pct"] == 100.0

    def test_record_timeline_keeps_plan_action_and_inquiry(self):
        inc = self.diagnose_seed()["incident_id"]
        self.run_action(RecordTimeline, incident_id=inc, type="ESCALATE",
                        message="awaiting approval", inquiry_id="abc123",
                        plan=[{"step": "cordon_node"}],
                        action={"action": "self_healing.cordon_node", "dry_run": False})
        record = self.run_action(ShowIncident, incident_id=inc)["incident"]
        assert record["inquiry_id"] == "abc123" and record["plan"] == [{"step": "cordon_node"}]
        assert record["actions"][0]["action"] == "self_healing.cordon_node"
        assert record["escalated"] is True

    def test_record_timeline_returns_the_wait_deadline_and_the_capped_ttl(self):
        inc = self.diagnose_seed()["incident_id"]
        created = clock.parse_iso(self.run_action(ShowIncident, incident_id=inc)[
            "incident"]["created_at"])
        bound = created + incidents.END_BUDGET_S
        self.fake_clock.t = created + 100
        out = self.run_action(RecordTimeline, incident_id=inc, type="PLAN", kind="plan",
                              message="plan", inquiry_ttl_minutes=30)
        assert out["deadline"] == bound - 30  # the reserve for finishing and reporting
        assert out["inquiry_ttl_minutes"] == int((bound - 30 - (created + 100)) // 60)
        held = self.run_action(RecordTimeline, incident_id=inc, type="PLAN", message="plan",
                               holds_s=600, inquiry_ttl_minutes=30)
        assert held["deadline"] == bound + 600 - 30 and held["inquiry_ttl_minutes"] == 17
        given = self.run_action(RecordTimeline, incident_id=inc, type="ESCALATE",
                                message="ask", deadline=created + 250, inquiry_ttl_minutes=30)
        assert (given["deadline"], given["inquiry_ttl_minutes"]) == (created + 250, 2)

    def test_record_timeline_ttl_after_the_deadline_is_the_floor_or_none(self):
        inc = self.diagnose_seed()["incident_id"]
        self.fake_clock.t += 2 * incidents.END_BUDGET_S
        out = self.run_action(RecordTimeline, incident_id=inc, type="PLAN", message="late",
                              inquiry_ttl_minutes=30)
        assert out["inquiry_ttl_minutes"] == 1
        assert self.run_action(RecordTimeline, incident_id=inc, type="PLAN",
                               message="no ttl")["inquiry_ttl_minutes"] == 0


class _Hook(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        answer = json.dumps({"url": "https://tracker.local/T-1"}).encode()
        self.send_response(201)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


class TestFixTask(PackActionCase):
    def test_webhook_delivery_and_failure(self):
        inc = self.diagnose_seed()["incident_id"]
        server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        url = "http://127.0.0.1:%d/tasks" % server.server_address[1]
        try:
            sent = self.run_action(CreateFixTask, config={"fix_task_webhook": url},
                                   incident_id=inc, title="Fix the leak")
        finally:
            server.shutdown()
            server.server_close()
        assert sent["delivered"] is True and sent["webhook_status"] == 201
        assert _Hook.received[-1]["title"] == "Fix the leak"
        assert "memory leak in analytics-worker" in _Hook.received[-1]["root_cause"]
        assert sent["summary"] == "task filed at https://tracker.local/T-1"
        failed = self.run_action(CreateFixTask, config={"fix_task_webhook": url},
                                 incident_id=inc, title="Again")
        assert failed["delivered"] is False and "unreachable" in failed["error"]
        tasks = self.run_action(ShowIncident, incident_id=inc)["incident"]["tasks"]
        assert [(t["title"], t["delivered"]) for t in tasks] == [
            ("Fix the leak", True), ("Again", False)]

    def test_dry_run_files_nothing(self):
        inc = self.diagnose_seed()["incident_id"]
        result = self.run_action(CreateFixTask, incident_id=inc, title="x", dry_run=True)
        assert result["changed"] is False and result["dry_run"] is True
        assert self.run_action(ShowIncident, incident_id=inc)["incident"]["tasks"] == []


class FakeInquiries(object):
    def __init__(self):
        self.responses = []

    def get_all(self):
        return [type("Inquiry", (), {"id": "inq-7"})()]

    def respond(self, inquiry_id, response):
        self.responses.append((inquiry_id, response))


class FakeExecutions(object):
    def __init__(self, incident_id):
        self.incident_id = incident_id

    def get_by_id(self, execution_id):
        if execution_id == "inq-7":
            return type("Ex", (), {"parameters": {"route": "self_healing"},
                                   "context": {"parent": {"execution_id": "wf-1"}}})()
        return type("Ex", (), {"parameters": {"incident_id": self.incident_id},
                               "context": {}})()


class FakeSt2Client(object):
    def __init__(self, incident_id):
        self.inquiries = FakeInquiries()
        self.executions = FakeExecutions(incident_id)


class TestRespondToPlan(PackActionCase):
    def test_finds_the_inquiry_of_the_incident_and_records_the_answer(self):
        inc = self.diagnose_seed()["incident_id"]
        action = RespondToPlan(config=CONFIG, action_service=self.action_service)
        action.client = FakeSt2Client(inc)
        result = action.run(incident_id=inc, approve=False, comment="not now", by="ana")
        assert result["inquiry_id"] == "inq-7" and result["approved"] is False
        assert action.client.inquiries.responses == [
            ("inq-7", {"approved": False, "reason": "ana: not now"})]
        record = self.run_action(ShowIncident, incident_id=inc)["incident"]
        assert record["timeline"][-1]["message"] == "plan denied by ana: not now"

    def test_without_stackstorm_it_fails_with_a_clear_message(self):
        inc = self.diagnose_seed()["incident_id"]
        ok, result = self.run_action(RespondToPlan, incident_id=inc, approve=True)
        assert ok is False
        assert "st2client" in result["error"] or "ST2_ACTION_API_URL" in result["error"]

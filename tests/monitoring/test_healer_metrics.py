"""The healer's own metrics: computed from the datastore, valid exposition text, pushed to a
Pushgateway; the alert rules pass `promtool test rules`; the dashboard and the rules only use
metrics the exporter produces."""
import http.server
import json
import os
import re
import shutil
import subprocess
import threading

import pytest

from engine.actions import ActionService
from engine.datastore import Datastore as EngineStore

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
MONITORING = os.path.join(REPO, "monitoring")
PROMTOOL = shutil.which("promtool")
T0 = 1795835842.0
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")


class Clock(object):
    def __init__(self) -> None:
        self.t = T0

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def world():
    from lib import clock as lib_clock
    from lib.datastore import Datastore
    manual = Clock()
    lib_clock.set_time_source(manual.now, manual.advance)
    store = Datastore(ActionService(EngineStore(now_fn=manual.now), "self_healing", "t"))
    yield manual, store
    lib_clock.reset()


def settings(**overrides):
    from lib.config import load_settings
    return load_settings(overrides)


def fill(store, clock):
    """Decisions, a mutation, incidents, the kill switch and a sensor health record."""
    from lib import audit, incidents, metrics, policy
    for decision in ("execute", "execute", "deny", "escalate"):
        audit.append(store, {"type": "policy_decision", "decision": decision})
    audit.append(store, {"type": "mutation", "action": "self_healing.cordon_node", "would": ""})
    audit.append(store, {"type": "mutation", "action": "self_healing.cordon_node",
                         "would": "cordon n2"})
    book = incidents.Incidents(store)
    for number, status in enumerate(("resolved", "resolved", "failed", "open")):
        book.create(incidents.new_record("inc-%d" % number, status=status))
    store.set_json(policy.KILL_SWITCH_KEY, {"engaged": True, "by": "alice"})
    metrics.record_poll(store, clock.now() - 0.25, clock.now(), None, {"prometheus": {}})


def values(samples):
    return {(name, tuple(sorted(labels.items()))): value for name, labels, value in samples}


def test_metrics_from_the_datastore(world):
    from lib import audit, metrics
    clock, store = world
    fill(store, clock)
    first = values(metrics.collect(store, settings(mode="dry_run")))
    # audit records younger than LAG_S are not counted yet (they may still be being written)
    assert first[("self_healing_policy_decisions_total", (("decision", "execute"),))] == 0
    clock.advance(metrics.LAG_S + 1)
    now = values(metrics.collect(store, settings(mode="dry_run")))
    assert now[("self_healing_policy_decisions_total", (("decision", "execute"),))] == 2
    assert now[("self_healing_policy_decisions_total", (("decision", "deny"),))] == 1
    assert now[("self_healing_actions_total", (("action", "self_healing.cordon_node"),
                                               ("mode", "real")))] == 1
    assert now[("self_healing_actions_total", (("action", "self_healing.cordon_node"),
                                               ("mode", "dry_run")))] == 1
    assert now[("self_healing_incidents", (("status", "resolved"),))] == 2
    assert now[("self_healing_incidents", (("status", "failed"),))] == 1
    assert now[("self_healing_incidents", (("status", "escalated"),))] == 0
    assert now[("self_healing_kill_switch_engaged", ())] == 1
    assert now[("self_healing_sensor_degraded", (("source", "prometheus"),))] == 1
    assert now[("self_healing_sensor_degraded", (("source", "kubernetes"),))] == 0
    assert now[("self_healing_poll_duration_seconds", ())] == pytest.approx(0.25)
    assert now[("self_healing_poll_errors", ())] == 1  # the poll itself failed (result None)
    assert now[("self_healing_mode", (("mode", "dry_run"),))] == 1
    # counters only grow, and each record is counted once however often the exporter runs
    audit.append(store, {"type": "policy_decision", "decision": "execute"})
    clock.advance(metrics.LAG_S + 1)
    metrics.collect(store, settings())
    later = values(metrics.collect(store, settings()))
    assert later[("self_healing_policy_decisions_total", (("decision", "execute"),))] == 3


@needs_promtool
def test_exposition_passes_promtool_check_metrics(world):
    from lib import metrics
    clock, store = world
    fill(store, clock)
    clock.advance(metrics.LAG_S + 1)
    text = metrics.exposition(metrics.collect(store, settings()))
    assert '\nself_healing_incidents{status="failed"} 1\n' in text
    checked = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert checked.returncode == 0, checked.stdout.decode()


class _Gateway(http.server.BaseHTTPRequestHandler):
    received = []

    def do_PUT(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Content-Type"], body.decode()))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_export_metrics_pushes_to_the_pushgateway(world):
    from export_metrics import ExportMetrics
    clock, store = world
    fill(store, clock)
    server = http.server.HTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Gateway.received = []
    try:
        url = "http://127.0.0.1:%d" % server.server_port
        action = ExportMetrics(config={"metrics": {"pushgateway_url": url}},
                               action_service=store._service)
        result = action.run()
        assert result["pushed"] is True and result["status"] == 200
        (path, kind, body), = _Gateway.received
        assert path == "/metrics/job/self_healing" and kind.startswith("text/plain; version=0.0.4")
        assert body == result["text"] and "self_healing_kill_switch_engaged 1\n" in body
        action = ExportMetrics(config={"metrics": {"pushgateway_url": "http://127.0.0.1:9"}},
                               action_service=store._service)
        ok, failed = action.run()
        assert ok is False and failed["error"].startswith("push to http://127.0.0.1:9 failed")
    finally:
        server.shutdown()
        server.server_close()


def test_poll_records_the_sensor_health(world):
    from lib import metrics
    from lib.detectors.poller import PollResult
    clock, store = world
    result = PollResult()
    result.errors = {"latency_anomaly": "bad query"}
    health = metrics.record_poll(store, clock.now() - 1.5, clock.now(), result, {})
    assert store.get_json(metrics.HEALTH_KEY) == health
    assert health["duration_s"] == 1.5 and health["errors"] == 1 and health["degraded"] == []


@needs_promtool
def test_alert_rules_pass_promtool():
    for args in (["check", "rules", "prometheus-rules.yaml"],
                 ["test", "rules", os.path.join("tests", "self_healing_rules_test.yaml")]):
        done = subprocess.run([PROMTOOL] + args, cwd=MONITORING, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=120)
        assert done.returncode == 0, done.stdout.decode()
        assert "SUCCESS" in done.stdout.decode()


def _metric_names(expr):
    return set(re.findall(r"\bself_healing_[a-z_]+", expr))


def test_dashboard_and_rules_use_only_exported_metrics():
    import yaml
    from lib import metrics
    with open(os.path.join(MONITORING, "grafana-dashboard.json")) as handle:
        dashboard = json.load(handle)
    used = set()
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used |= _metric_names(target["expr"])
    with open(os.path.join(MONITORING, "prometheus-rules.yaml")) as handle:
        rules = yaml.safe_load(handle)
    alerts = {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]}
    assert {"SelfHealingBlind", "SelfHealingKeepsFailing"} <= set(alerts)
    for rule in alerts.values():
        used |= _metric_names(rule["expr"])
    assert used and used <= set(metrics.HELP), sorted(used - set(metrics.HELP))
    assert set(metrics.HELP) - {"self_healing_metrics_timestamp_seconds"} <= used

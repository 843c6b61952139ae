"""Alertmanager's webhook (payload version 4) mapped onto the pack's playbooks, sharing the
detectors' dedupe: unit tests on the mapping, the rule, and a run on the seed scenario."""
import copy
import shutil

import pytest

from engine.actions import ActionService
from engine.datastore import Datastore as EngineStore
from engine.pack import Pack
from engine.rules import RuleMatcher, load_rules, matching, webhook_payload

NODE = "gke-prod-pool-1-abc123"
T0 = 1795835842.0


def alert(status, labels, starts="2026-11-28T03:17:22.123456789Z", ends=None, **annotations):
    return {"status": status, "labels": labels,
            "annotations": annotations or {"summary": "%s is in trouble" % labels["alertname"]},
            "startsAt": starts,
            "endsAt": ends or ("0001-01-01T00:00:00Z" if status == "firing"
                               else "2026-11-28T03:40:00Z"),
            "generatorURL": "http://prometheus.monitoring:9090/graph?g0.expr=up",
            "fingerprint": "%016x" % (abs(hash(tuple(sorted(labels.items())))) % (1 << 62))}


def payload(*alerts_, status="firing"):
    """Alertmanager's webhook JSON (version 4) as it POSTs it."""
    common = dict(alerts_[0]["labels"]) if alerts_ else {}
    return {"version": "4", "groupKey": '{}:{alertname="%s"}' % common.get("alertname", ""),
            "truncatedAlerts": 0, "status": status, "receiver": "stackstorm",
            "groupLabels": {"alertname": common.get("alertname", "")},
            "commonLabels": common, "commonAnnotations": {},
            "externalURL": "http://alertmanager.monitoring:9093", "alerts": list(alerts_)}


PRESSURE = {"alertname": "KubeNodePressure", "condition": "MemoryPressure", "node": NODE,
            "severity": "info", "job": "kube-state-metrics"}
CRASH = {"alertname": "KubePodCrashLooping", "namespace": "production", "pod": "api-7f8d9",
         "container": "api", "severity": "warning"}
NODE_MEM = {"alertname": "NodeMemoryHighUtilization", "instance": "%s:9100" % NODE,
            "severity": "warning"}
TEAM = {"alertname": "PaymentsLeak", "team": "payments", "namespace": "payments",
        "pod": "ledger-5c4b", "self_healing_detector": "memory_leak", "severity": "critical"}
UNKNOWN = {"alertname": "KubeMemoryOvercommit", "severity": "warning"}


class Clock(object):
    def __init__(self):
        self.t = T0

    def now(self):
        return self.t


class Hooks(object):
    """A fake st2client: records what would be dispatched through /webhooks/st2."""

    def __init__(self):
        self.sent = []
        self.webhooks = self

    def post_generic_webhook(self, trigger, payload=None, trace_tag=None):
        self.sent.append((trigger, payload))


@pytest.fixture
def ingest():
    from lib import clock as lib_clock
    from ingest_alerts import IngestAlerts
    manual = Clock()
    lib_clock.set_time_source(manual.now, lambda s: None)
    service = ActionService(EngineStore(now_fn=manual.now), "self_healing", "IngestAlerts")
    hooks = Hooks()

    def run(body, config=None):
        action = IngestAlerts(config=config or {}, action_service=service)
        action.client = hooks
        return action.run(payload=copy.deepcopy(body))
    run.hooks, run.clock, run.service = hooks, manual, service
    yield run
    lib_clock.reset()


def test_standard_and_team_alerts_map_onto_detectors(ingest):
    result = ingest(payload(alert("firing", PRESSURE), alert("firing", CRASH),
                            alert("firing", NODE_MEM), alert("firing", TEAM),
                            alert("firing", UNKNOWN)))
    sent = [(t, p["target"]["kind"], p["target"]["namespace"], p["target"]["name"],
             p["severity"]) for t, p in ingest.hooks.sent]
    # NodeMemoryHighUtilization names the same node as KubeNodePressure: one condition
    assert sent == [
        ("self_healing.memory_pressure", "Node", "", NODE, "high"),
        ("self_healing.crash_loop", "Pod", "production", "api-7f8d9", "high"),
        ("self_healing.memory_leak", "Pod", "payments", "ledger-5c4b", "critical")]
    assert result["duplicates"] == [ingest.hooks.sent[0][1]["signal_id"]]
    assert result["unmapped"] == ["KubeMemoryOvercommit: no mapping"]
    first = ingest.hooks.sent[0][1]
    assert first["first_detected"] == "2026-11-28T03:17:22Z"
    assert first["metadata"]["source"] == "alertmanager"
    assert first["metadata"]["alertname"] == "KubeNodePressure"
    assert first["summary"] == "KubeNodePressure: KubeNodePressure is in trouble (Alertmanager)"
    from lib import signals
    for _, body in ingest.hooks.sent:
        signals.validate_payload(body)  # exactly what the detectors emit


def test_repeats_are_one_condition_and_resolved_clears_it(ingest):
    body = payload(alert("firing", CRASH))
    ingest(body)
    ingest.clock.t += 300  # Alertmanager re-sends the group (group_interval / repeat_interval)
    again = ingest(body)
    assert len(ingest.hooks.sent) == 1 and len(again["duplicates"]) == 1
    resolved = ingest(payload(alert("resolved", CRASH), status="resolved"))
    assert [t for t, _ in ingest.hooks.sent] == ["self_healing.crash_loop",
                                                 "self_healing.signal_cleared"]
    assert resolved["cleared"][0]["target"]["name"] == "api-7f8d9"
    ingest.clock.t += 3600
    ingest(body)  # it comes back after the flap window: a new condition fires again
    assert [t for t, _ in ingest.hooks.sent][-1] == "self_healing.crash_loop"


def test_an_alert_about_a_condition_a_detector_opened_is_the_same_incident(ingest):
    from lib import signal_state, signals
    from lib.datastore import Datastore
    state = signal_state.SignalState(Datastore(ingest.service))
    detector_signal = signals.Signal("memory_pressure", signals.make_target("Node", NODE, "",
                                                                            NODE),
                                     "high", T0 - 60, T0, "memory pressure on node")
    fire, _ = state.update("memory_pressure", [detector_signal])
    assert fire == [detector_signal]
    result = ingest(payload(alert("firing", PRESSURE)))
    assert ingest.hooks.sent == [] and result["duplicates"] == [detector_signal.signal_id]
    # the alert resolving does not clear what the detector still sees
    cleared = ingest(payload(alert("resolved", PRESSURE), status="resolved"))
    assert cleared["cleared"] == [] and ingest.hooks.sent == []


@pytest.mark.parametrize("body,problem", [
    ({"alerts": []}, "version: expected \"4\""),
    ({"version": "4", "alerts": {}}, "alerts: must be a list"),
    ({"version": "4", "alerts": [{"status": "firing"}]}, "alerts[0].labels"),
    ({"version": "4", "alerts": [{"status": "odd", "labels": {}}]}, "alerts[0].status"),
])
def test_bad_payloads_fail_clearly(ingest, body, problem):
    ok, result = ingest(body)
    assert ok is False and problem in result["error"]
    assert ingest.hooks.sent == []


def test_the_rule_takes_only_alertmanager_webhooks():
    rules = load_rules(Pack().resources("rules"))
    matcher = RuleMatcher(lambda: T0)
    body = payload(alert("firing", CRASH))
    mine = matching(rules, matcher, "core.st2.webhook", webhook_payload(body),
                    parameters={"url": "alertmanager"})
    assert [r.ref for r in mine] == ["self_healing.alertmanager_webhook"]
    rendered = matcher.render_parameters(mine[0], webhook_payload(body))
    from engine.params import cast
    assert cast(rendered["payload"], "object") == body
    assert matching(rules, matcher, "core.st2.webhook", webhook_payload(body),
                    parameters={"url": "github"}) == []
    assert matching(rules, matcher, "core.st2.webhook", webhook_payload(dict(body, version="3")),
                    parameters={"url": "alertmanager"}) == []


needs_world = pytest.mark.skipif(
    not (shutil.which("prometheus") and shutil.which("nats-server")),
    reason="prometheus and nats-server are needed")


@needs_world
@pytest.mark.twin
@pytest.mark.orquesta
def test_seed_scenario_alert_joins_the_detector_incident():
    """The seed's node pressure alert arrives after the detector fired, then resolves: one
    incident, the same playbook run, nothing dispatched twice."""
    pytest.importorskip("orquesta")
    from harness import run_scenario
    delivered = []

    def deliver(world, engine):
        fired = [t for t in engine.triggers if t["type"] == "self_healing.memory_pressure"]
        if fired and not delivered:
            from lib import clock
            starts = clock.isoformat(clock.now() - 600)
            delivered.append(engine.webhook("alertmanager", payload(alert(
                "firing", PRESSURE, starts=starts))))
            # resolved two minutes later, while the run (which ends once settled) is still on
            engine.schedule(120, resolve)

    def resolve(world, engine):
        delivered.append(engine.webhook("alertmanager", payload(
            alert("resolved", PRESSURE), status="resolved")))

    schedule = [(60 * minute, deliver) for minute in range(1, 20)]
    result = run_scenario("seed-0317-memory-leak", mode="autonomous", seed=0,
                          faults={"schedule": schedule})
    assert len(delivered) == 2, "the detector never fired"
    assert delivered[0]["rules"] == ["self_healing.alertmanager_webhook"]
    ingests = [e for e in result.executions if e["ref"] == "self_healing.ingest_alerts"]
    assert [e["status"] for e in ingests] == ["succeeded", "succeeded"]
    first = ingests[0]["result"]["result"]
    assert first["fired"] == [] and len(first["duplicates"]) == 1
    assert len([t for t in result.triggers if t["type"] == "self_healing.memory_pressure"]) == 1
    assert len(result.executions_of("memory_pressure_node")) == 1
    assert len(result.incidents) == 1 and result.ok, result.assessment

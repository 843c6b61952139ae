"""Hand-overs: at most one per incident, never back to a playbook that ran; a NotReady node
found under a symptom waits out its grace, and a node storm escalates without node steps."""
import pytest

pytestmark = pytest.mark.orquesta

from support.workflow_fakes import Recorded, make_runner  # noqa: E402

STORM = ("node storm: 4 of 6 nodes unhealthy (n-1, n-2, n-3, n-4), limit 1")


def signal(detector, kind, name, service="", **metadata):
    target = {"kind": kind, "namespace": "" if kind == "Node" else "production", "name": name,
              "node": name if kind == "Node" else ""}
    return {"signal_id": "%s.%s.%s" % (detector, kind.lower(), name), "detector": detector,
            "target": target, "service": service, "severity": "high",
            "first_detected": "2026-11-28T03:17:22Z", "detected_at": "2026-11-28T03:17:22Z",
            "summary": "%s on %s %s" % (detector, kind, name), "evidence": {},
            "metadata": metadata}


def storm_gate(params):
    node_step = params["step"] in ("cordon_node", "drain_node", "scale_node_pool")
    decision = "deny" if node_step else "execute"
    return {"decision": decision, "reason": STORM if node_step else "ok",
            "check": "storm" if node_step else "", "dry_run": False,
            "mode": "autonomous", "risk": params["risk"], "max_risk": "medium",
            "audit_key": "a"}


def start(pack, clock, playbook, sig, recorded):
    runner = make_runner(recorded, clock, "approve")
    return runner.run("self_healing." + playbook, {"signal": sig, "target_key": "x"}), runner


def children(runner, name):
    return [e for e in runner.executions if e.ref == "self_healing." + name]


def test_symptom_on_a_not_ready_node_hands_over_once_and_waits_out_the_grace(
        pack, manual_clock):
    node = signal("node_not_ready", "Node", "n-1", ready_status="Unknown",
                  not_ready_seconds=0, grace_wait_s=315)
    recorded = Recorded(pack, {"diagnose": {"playbook": "node_not_ready", "root_cause": node},
                               "check_policy": storm_gate})
    started = manual_clock.now()
    execution, runner = start(pack, manual_clock, "error_rate",
                              signal("error_rate", "Service", "catalog", service="catalog"),
                              recorded)
    assert execution.status == "succeeded", execution.result
    assert len(children(runner, "node_not_ready")) == 1
    assert not children(runner, "cascade_protection")
    handovers = [e for e in recorded.timeline if "hand over to playbook" in e["message"]]
    assert len(handovers) == 1
    gate = [g for g in recorded.called("check_policy") if g["step"] == "cordon_node"]
    assert gate and manual_clock.now() - started >= 315
    assert not recorded.called("cordon_node") and not recorded.called("drain_node")
    escalations = [e for e in recorded.timeline if e["type"] == "ESCALATE"]
    assert escalations and escalations[0]["message"].startswith("node storm: 4 of 6")
    assert "a human should look" in escalations[0]["message"]
    assert recorded.statuses[-1]["status"] == "escalated"
    assert recorded.statuses[-1]["reason"].startswith("node storm")


def test_a_node_signal_past_its_grace_plans_at_once(pack, manual_clock):
    recorded = Recorded(pack, {"check_policy": storm_gate})
    started = manual_clock.now()
    execution, _ = start(pack, manual_clock, "node_not_ready",
                         signal("node_not_ready", "Node", "n-2", ready_status="Unknown",
                                not_ready_seconds=300), recorded)
    assert execution.status == "succeeded", execution.result
    first_gate = recorded.called("check_policy")[0]
    assert first_gate["step"] == "cordon_node"
    assert not any("hold" in e["message"] for e in recorded.timeline)
    assert manual_clock.now() - started < 60


@pytest.mark.parametrize("playbook,detector,kind,name", [
    ("node_not_ready", "node_not_ready", "Node", "n-3"),
    ("memory_leak", "memory_leak", "Pod", "catalog-abc"),
])
def test_a_refined_incident_already_handed_over_is_not_handed_over_again(
        pack, manual_clock, playbook, detector, kind, name):
    recorded = Recorded(pack, {"diagnose": {
        "joined": False, "refined": True, "refined_playbook": "cascade_protection",
        "playbook": "cascade_protection", "handovers": ["cascade_protection"],
        "playbooks_ran": ["cascade_protection", "error_rate"],
        "root_cause": signal("error_rate", "Service", "catalog", service="catalog")}})
    execution, runner = start(pack, manual_clock, playbook,
                              signal(detector, kind, name, service="catalog"), recorded)
    assert execution.status == "succeeded", execution.result
    assert execution.result["output"]["outcome"] == "joined"
    assert not children(runner, "cascade_protection")
    assert not recorded.gate_calls


def test_never_hands_back_to_a_playbook_that_ran(pack, manual_clock):
    recorded = Recorded(pack, {"diagnose": {
        "joined": False, "refined": True, "refined_playbook": "node_not_ready",
        "playbook": "node_not_ready", "handovers": [],
        "playbooks_ran": ["node_not_ready"],
        "root_cause": signal("node_not_ready", "Node", "n-1")}})
    execution, runner = start(pack, manual_clock, "error_rate",
                              signal("error_rate", "Service", "catalog", service="catalog"),
                              recorded)
    assert execution.status == "succeeded", execution.result
    assert execution.result["output"]["outcome"] == "joined"
    assert not children(runner, "node_not_ready")


def test_a_first_hand_over_still_happens(pack, manual_clock):
    recorded = Recorded(pack, {"diagnose": {
        "playbook": "node_not_ready", "handovers": [], "playbooks_ran": ["error_rate"],
        "root_cause": signal("node_not_ready", "Node", "n-1", not_ready_seconds=400)}})
    execution, runner = start(pack, manual_clock, "error_rate",
                              signal("error_rate", "Service", "catalog", service="catalog"),
                              recorded)
    assert execution.status == "succeeded", execution.result
    assert len(children(runner, "node_not_ready")) == 1
    assert recorded.called("cordon_node")

"""The shared opening (open_incident) and closing (close_incident) of the playbooks."""
import pytest

pytestmark = pytest.mark.orquesta

from support.workflow_fakes import Failure, Recorded, make_runner  # noqa: E402

INCIDENT = "inc-20261128-031722-test"
SIGNAL = {"signal_id": "disk_pressure.node.node-7", "detector": "disk_pressure",
          "target": {"kind": "Node", "namespace": "", "name": "node-7", "node": "node-7"},
          "service": "", "severity": "high", "first_detected": "2026-11-28T03:17:22Z",
          "detected_at": "2026-11-28T03:17:22Z", "summary": "disk full on node-7",
          "evidence": {}, "metadata": {"avail_pct": 4.0}}
TASK = [{"step": "create_fix_task", "action": "self_healing.create_fix_task", "risk": "none",
         "timeline": "TASK", "target": SIGNAL["target"],
         "params": {"incident_id": INCIDENT, "title": "clean node-7"},
         "description": "follow-up: clean node-7"}]


def test_a_playbook_that_cannot_diagnose_says_so_and_fails(pack, manual_clock):
    recorded = Recorded(pack, {"diagnose": Failure({"error": "datastore down"})})
    runner = make_runner(recorded, manual_clock)
    execution = runner.run("self_healing.disk_pressure", {"signal": SIGNAL, "target_key": "x"})
    assert execution.status == "failed"
    assert recorded.refs() == ["self_healing.diagnose"]
    assert recorded.called("diagnose")[0]["playbook"] == "disk_pressure"
    assert runner.chat.messages[-1]["message"].startswith(
        ":x: self_healing could not diagnose disk full on node-7")


def test_open_incident_outputs_the_route_and_runs_the_handover(pack, manual_clock):
    recorded = Recorded(pack, {"diagnose": {"playbook": "node-not-ready",
                                            "root_cause": dict(SIGNAL, summary="node-7 down")}})
    runner = make_runner(recorded, manual_clock)
    execution = runner.run("self_healing.open_incident", {
        "playbook": "disk_pressure", "signal": SIGNAL, "target_key": "x"})
    assert execution.status == "succeeded", execution.result
    output = execution.result["output"]
    assert (output["route"], output["incident_id"]) == ("handover", INCIDENT)
    child = [e for e in runner.executions if e.ref == "self_healing.node_not_ready"]
    assert len(child) == 1 and child[0].parameters["incident_id"] == INCIDENT
    handover = [e for e in recorded.timeline if e.get("kind") == "handover"]
    assert handover[0]["message"] == "root cause node-7 down - hand over to playbook " \
        "node_not_ready" and handover[0]["playbook"] == "node_not_ready"
    assert output["outcome"] == child[0].result["output"]["outcome"]
    assert output["outcome"] not in ("", "joined")


def test_open_incident_leaves_planning_to_the_caller_on_route_self(pack, manual_clock):
    recorded = Recorded(pack, {"diagnose": {"playbook": "disk_pressure"}})
    runner = make_runner(recorded, manual_clock)
    execution = runner.run("self_healing.open_incident", {
        "playbook": "disk_pressure", "signal": SIGNAL})
    output = execution.result["output"]
    assert execution.status == "succeeded"
    assert (output["route"], output["outcome"]) == ("self", "")
    assert output["diagnosis"]["playbook"] == "disk_pressure"
    assert recorded.refs() == ["self_healing.diagnose"]


@pytest.mark.parametrize("finish", [True, False])
def test_close_incident_records_runs_and_finishes_unless_told_not_to(pack, manual_clock,
                                                                      finish):
    recorded = Recorded(pack)
    runner = make_runner(recorded, manual_clock)
    execution = runner.run("self_healing.close_incident", {
        "incident_id": INCIDENT, "playbook": "disk_pressure", "plan": TASK, "finish": finish})
    assert execution.status == "succeeded", execution.result
    output = execution.result["output"]
    assert (output["outcome"], output["denied"]) == ("completed", [])
    assert "create_fix_task" in output["executed"]
    plan = [e for e in recorded.timeline if e.get("kind") == "plan"]
    assert plan[0]["message"] == "1. follow-up: clean node-7 [none]. Risk: NONE"
    assert plan[0]["playbook"] == "disk_pressure"
    planned = [c for c in recorded.called("record_timeline") if c.get("kind") == "plan"]
    assert planned[0]["plan"] == [{"step": "create_fix_task",
                                   "action": "self_healing.create_fix_task", "risk": "none",
                                   "params": TASK[0]["params"]}]
    assert recorded.statuses == ([{"status": "resolved", "reason": "remediated and verified"}]
                                 if finish else [])


RECENT = {"namespace": "production", "deployment": "orders", "current_version": "v2",
          "previous_version": "v1", "minutes_since_deploy": 12.0,
          "deployed_within_window": True, "rollback_possible": True}


@pytest.mark.parametrize("symptom, metadata, threshold, recovered, degraded", [
    ("latency_anomaly", {"baseline_p99_ms": 300}, 600.0,
     "p99 of orders below 2x its baseline for 3m", "degraded latency"),
    ("error_rate", {"slo_error_ratio": 0.02}, 0.02,
     "5xx ratio of orders below its SLO for 3m", "degraded the error rate"),
])
def test_both_symptom_playbooks_run_the_shared_plan_with_their_measures(
        pack, manual_clock, symptom, metadata, threshold, recovered, degraded):
    sig = dict(SIGNAL, detector=symptom, signal_id=symptom + ".service.orders",
               target={"kind": "Service", "namespace": "production", "name": "orders",
                       "node": ""}, service="orders", metadata=metadata)
    recorded = Recorded(pack, {"check_recent_deploys": RECENT})
    runner = make_runner(recorded, manual_clock)
    execution = runner.run("self_healing." + symptom, {"signal": sig, "target_key": "x"})
    assert execution.status == "succeeded", execution.result
    assert execution.result["output"]["plan"] == [
        "rollback_deployment", "wait_for_rollout", "wait_symptom_recovered", "create_fix_task"]
    wait = [w for w in recorded.called("wait_for_condition")]
    assert (wait[0]["threshold"], wait[0]["description"]) == (threshold, recovered)
    title = recorded.called("create_fix_task")[0]["title"]
    assert title == "find why orders v2 %s before re-deploying" % degraded
    plan = [e for e in recorded.timeline if e.get("kind") == "plan"]
    assert plan[0]["playbook"] == symptom and recovered in plan[0]["message"]

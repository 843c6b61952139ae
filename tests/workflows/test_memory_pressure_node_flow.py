"""memory_pressure_node conducted by orquesta (engine) with recorded action results."""
import pytest

pytestmark = pytest.mark.orquesta

from support.workflow_fakes import Failure, Recorded, make_runner  # noqa: E402

SIGNAL = {
    "signal_id": "memory_pressure.node._.gke-prod-pool-1-abc123.1795835842",
    "detector": "memory_pressure",
    "target": {"kind": "Node", "namespace": "", "name": "gke-prod-pool-1-abc123",
               "node": "gke-prod-pool-1-abc123"},
    "service": "", "severity": "high",
    "first_detected": "2026-11-28T03:17:22Z", "detected_at": "2026-11-28T03:17:22Z",
    "summary": "memory pressure on node gke-prod-pool-1-abc123: 91% (+2.0%/min)",
    "evidence": {}, "metadata": {"utilization_pct": 91.0, "node_pool": "gke-prod-pool-1"}}
NODE = "gke-prod-pool-1-abc123"
TOP = {"node": NODE, "top_pod": "analytics-worker-7f8d9", "top_namespace": "production",
       "top_service": "analytics-worker", "pods": []}
RECENT = {"namespace": "production", "deployment": "analytics-worker",
          "current_version": "v1.4.2", "previous_version": "v1.4.1",
          "minutes_since_deploy": 47.0, "deployed_within_window": True,
          "rollback_possible": True}


def run(pack, clock, recorded, approve="approve", **params):
    runner = make_runner(recorded, clock, approve)
    parameters = {"signal": SIGNAL, "target_key": "node._.%s" % NODE}
    parameters.update(params)
    execution = runner.run("self_healing.memory_pressure_node", parameters)
    return execution, runner


def leak_results(**extra):
    results = {"identify_top_memory_pods": TOP, "check_recent_deploys": RECENT}
    results.update(extra)
    return results


def test_seed_story_rolls_back_the_leak_and_tells_the_timeline(pack, manual_clock):
    recorded = Recorded(pack, leak_results())
    execution, runner = run(pack, manual_clock, recorded)
    assert execution.status == "succeeded", execution.result
    assert recorded.types() == ["DETECT", "DIAGNOSE", "PLAN", "EXECUTE", "EXECUTE", "NOTIFY",
                                "VERIFY", "EXECUTE", "TASK"]
    messages = [e["message"] for e in recorded.timeline]
    assert messages[3] == "cordon %s" % NODE
    assert messages[4].startswith("rollout undo deployment/analytics-worker (v1.4.2 -> v1.4.1")
    assert messages[7] == "uncordon %s" % NODE
    assert "Risk: MEDIUM" in messages[2]
    assert recorded.called("rollback_deployment") == [{
        "namespace": "production", "deployment": "analytics-worker", "to_revision": 0,
        "incident_id": "inc-20261128-031722-test", "dry_run": False}]
    wait = recorded.called("wait_for_condition")[0]
    assert (wait["comparator"], wait["threshold"], wait["hold_s"]) == ("<", 70, 300)
    assert NODE in wait["query"]
    assert recorded.statuses[-1]["status"] == "resolved"
    posted = [m["message"] for m in runner.chat.messages]
    assert any("memory leak in analytics-worker v1.4.2" in m for m in posted)
    assert posted[-1].startswith("DETECT:")  # the incident report goes to the channel last
    assert all(m["channel"] == "#incidents" for m in runner.chat.messages)


def test_without_recent_deploy_the_seed_steps_run(pack, manual_clock):
    recorded = Recorded(pack, leak_results(check_recent_deploys=dict(
        RECENT, deployed_within_window=False)))
    execution, _ = run(pack, manual_clock, recorded)
    assert execution.status == "succeeded"
    assert execution.result["output"]["plan"] == [
        "cordon_node", "evict_non_critical_pods", "scale_node_pool",
        "wait_node_memory_below_70", "check_moved_pods_placed", "uncordon_node",
        "watch_for_relapse"]
    evict = recorded.called("evict_pods")[0]
    assert evict["criteria"] == "priority < high AND restartable == true"
    assert recorded.called("scale_node_pool")[0]["delta"] == 1
    assert recorded.called("scale_node_pool")[0]["pool"] == "gke-prod-pool-1"


STUCK = {"placed": False, "escalate": True, "node": NODE, "moved": ["batch/ml-1", "batch/ml-2"],
         "reason": "2 evicted pod(s) of batch/ml-batch are Pending: their nodeSelector "
                   "workload-class=batch matches only the cordoned node %s; uncordoning %s "
                   "would bring the pressure back, so it stays cordoned." % (NODE, NODE)}
PLACED = {"placed": True, "escalate": False, "node": NODE, "reason": "",
          "summary": "the 2 pod(s) moved off %s found room elsewhere" % NODE}


def relieve_results(**extra):
    return leak_results(check_recent_deploys=dict(RECENT, deployed_within_window=False),
                        **extra)


def test_evicted_pods_with_nowhere_to_go_keep_the_node_cordoned_and_escalate(
        pack, manual_clock):
    recorded = Recorded(pack, relieve_results(check_displaced_pods=STUCK))
    execution, runner = run(pack, manual_clock, recorded)
    assert execution.status == "succeeded", execution.result
    check = recorded.called("check_displaced_pods")
    assert len(check) == 1 and check[0]["node"] == NODE
    assert check[0]["incident_id"] == "inc-20261128-031722-test"
    assert check[0]["pool"] == "gke-prod-pool-1"
    # no uncordon into the relapse, not even as an undo; the pool scale-up did not help: undone
    assert not recorded.called("uncordon_node")
    assert [c["delta"] for c in recorded.called("scale_node_pool")] == [1, -1]
    assert len(recorded.called("wait_for_condition")) == 1  # no relapse watch
    escalations = [e["message"] for e in recorded.timeline if e["type"] == "ESCALATE"]
    assert len(escalations) == 1
    assert "matches only the cordoned node %s" % NODE in escalations[0]
    assert "The plan left in place for a human: Node %s (uncordon %s (undo the cordon) " \
        "was not run)" % (NODE, NODE) in escalations[0]
    assert recorded.statuses[-1]["status"] == "escalated"
    assert "2 evicted pod(s) of batch/ml-batch are Pending" in recorded.statuses[-1]["reason"]
    assert execution.result["output"]["outcome"] == "escalated"
    assert "ESCALATE: plan stopped at check_moved_pods_placed" in runner.chat.messages[-1][
        "message"]


def test_evicted_pods_running_elsewhere_uncordon_and_watch_for_a_relapse(pack, manual_clock):
    recorded = Recorded(pack, relieve_results(check_displaced_pods=PLACED))
    execution, _ = run(pack, manual_clock, recorded)
    assert execution.status == "succeeded", execution.result
    order = [c["ref"].split(".", 1)[1] for c in recorded.calls
             if c["ref"].split(".", 1)[1] in ("check_displaced_pods", "uncordon_node",
                                               "wait_for_condition")]
    assert order == ["wait_for_condition", "check_displaced_pods", "uncordon_node",
                     "wait_for_condition"]
    watch = recorded.called("wait_for_condition")[1]
    assert (watch["comparator"], watch["threshold"], watch["hold_s"]) == ("<", 85, 180)
    assert watch["timeout_s"] < 2 * watch["hold_s"]  # a break in the hold fails the watch
    assert NODE in watch["query"]
    assert not [e for e in recorded.timeline if e["type"] == "ESCALATE"]
    assert recorded.statuses[-1]["status"] == "resolved"


def test_a_relapse_after_the_uncordon_cordons_again_and_fails(pack, manual_clock):
    waits = []

    def wait(params):
        waits.append(params)
        if len(waits) == 1:
            return {"met": True, "value": 40.0}
        return Failure({"error": "condition not met within 195s", "met": False,
                        "value": 88.0})

    recorded = Recorded(pack, relieve_results(check_displaced_pods=PLACED,
                                              wait_for_condition=wait))
    execution, _ = run(pack, manual_clock, recorded)
    assert execution.status == "failed"
    assert [c["ref"] for c in recorded.calls if "cordon" in c["ref"]] == [
        "self_healing.cordon_node", "self_healing.uncordon_node", "self_healing.cordon_node"]
    assert any(e["type"] == "ROLLBACK" and "again" in e["message"] for e in recorded.timeline)
    assert recorded.statuses[-1]["status"] == "failed"


def test_escalated_rollback_approved_continues(pack, manual_clock):
    recorded = Recorded(pack, leak_results(), decisions={"rollback_deployment": "escalate"})
    execution, runner = run(pack, manual_clock, recorded, approve="approve")
    assert execution.status == "succeeded"
    assert recorded.called("rollback_deployment")
    assert "ESCALATE" in recorded.types()
    assert recorded.statuses[-1]["status"] == "resolved"
    inquiry = runner.inquiry_policy.inquiries[0]
    assert inquiry.ttl == 30 and inquiry.status == "approved"
    assert any("Approval needed" in m["message"] for m in runner.chat.messages)


@pytest.mark.parametrize("answer", ["deny", "expire"])
def test_escalated_rollback_denied_or_expired_undoes_the_cordon(pack, manual_clock, answer):
    recorded = Recorded(pack, leak_results(), decisions={"rollback_deployment": "escalate"})
    execution, _ = run(pack, manual_clock, recorded, approve=answer)
    assert execution.status == "succeeded"
    assert not recorded.called("rollback_deployment")
    assert [c["ref"] for c in recorded.calls if "cordon" in c["ref"]] == [
        "self_healing.cordon_node", "self_healing.uncordon_node"]
    assert recorded.types()[-1] == "ROLLBACK"
    assert recorded.statuses[-1]["status"] == "escalated"


def test_verification_not_met_uncordons_and_fails(pack, manual_clock):
    recorded = Recorded(pack, leak_results(wait_for_condition=Failure(
        {"error": "condition not met within 1200s", "met": False})))
    execution, _ = run(pack, manual_clock, recorded)
    assert execution.status == "failed"
    undo = recorded.called("uncordon_node")
    assert len(undo) == 1 and undo[0]["node"] == NODE and undo[0]["dry_run"] is False
    assert "ROLLBACK" in recorded.types()
    assert recorded.statuses[-1]["status"] == "failed"
    assert not recorded.called("create_fix_task")


def test_dry_run_changes_nothing_and_does_not_wait(pack, manual_clock):
    recorded = Recorded(pack, leak_results(), mode="dry_run")
    start = manual_clock.now()
    execution, runner = run(pack, manual_clock, recorded)
    assert execution.status == "succeeded"
    assert all(p["dry_run"] for p in recorded.called("cordon_node") +
               recorded.called("rollback_deployment") + recorded.called("uncordon_node"))
    assert not recorded.called("wait_for_condition")
    assert [t["dry_run"] for t in recorded.called("create_fix_task")] == [True]
    assert manual_clock.now() - start < 60
    assert recorded.statuses[-1]["status"] == "escalated"
    assert any("[dry run]" in e["message"] for e in recorded.timeline)


def test_observe_mode_denies_every_step(pack, manual_clock):
    recorded = Recorded(pack, leak_results(), mode="observe")
    execution, _ = run(pack, manual_clock, recorded)
    assert execution.status == "succeeded"
    assert not recorded.called("cordon_node")
    assert recorded.types()[-2:] == ["DENY", "DENY"]  # cordon skipped, rollback stops the plan
    assert "ROLLBACK" not in recorded.types()
    assert recorded.statuses[-1]["status"] == "escalated"


def test_a_signal_joining_an_open_incident_does_not_remediate_twice(pack, manual_clock):
    recorded = Recorded(pack, leak_results(diagnose={"joined": True,
                                                      "playbook": "memory_pressure_node"}))
    execution, _ = run(pack, manual_clock, recorded)
    assert execution.status == "succeeded"
    assert execution.result["output"]["outcome"] == "joined"
    assert not recorded.called("check_policy") and not recorded.statuses


def test_diagnosed_root_cause_elsewhere_hands_over_with_the_same_incident(pack, manual_clock):
    root = dict(SIGNAL, detector="disk_pressure", summary="disk pressure on node n2",
                target={"kind": "Node", "namespace": "", "name": "n2", "node": "n2"})
    recorded = Recorded(pack, leak_results(diagnose={"playbook": "disk_pressure",
                                                      "root_cause": root}))
    execution, runner = run(pack, manual_clock, recorded)
    assert execution.status == "succeeded"
    child = [e for e in runner.executions if e.ref == "self_healing.disk_pressure"]
    assert len(child) == 1
    assert child[0].parameters["incident_id"] == "inc-20261128-031722-test"
    assert child[0].parameters["signal"]["target"]["name"] == "n2"
    assert recorded.called("cordon_node")[0]["node"] == "n2"
    assert len(recorded.called("diagnose")) == 2
    assert recorded.statuses[-1]["status"] == "resolved" and len(recorded.statuses) == 1


def test_gate_denying_the_rollback_stops_the_plan_and_uncordons(pack, manual_clock):
    recorded = Recorded(pack, leak_results(), decisions={"rollback_deployment": "deny"})
    execution, runner = run(pack, manual_clock, recorded)
    assert execution.status == "succeeded"
    assert not recorded.called("rollback_deployment")
    assert not recorded.called("wait_for_condition")
    assert recorded.types()[-2:] == ["DENY", "ROLLBACK"]
    assert recorded.called("uncordon_node")[0]["node"] == NODE
    assert recorded.statuses[-1]["status"] == "escalated"
    assert not any("self-healed" in m["message"] for m in runner.chat.messages)


def test_a_failing_gate_fails_closed(pack, manual_clock):
    recorded = Recorded(pack, leak_results(check_policy=Failure({"error": "datastore down"})))
    execution, _ = run(pack, manual_clock, recorded)
    assert execution.status == "succeeded"
    assert not recorded.called("cordon_node") and not recorded.called("rollback_deployment")
    denies = [e["message"] for e in recorded.timeline if e["type"] == "DENY"]
    assert denies and all("fail closed" in m for m in denies)
    assert recorded.statuses[-1]["status"] == "escalated"

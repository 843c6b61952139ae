"""Every playbook conducted by orquesta (engine) with recorded action results: success,
escalation approved and denied, and the rollback path after a failing step."""
import pytest

pytestmark = pytest.mark.orquesta

from lib.catalogue import target_key  # noqa: E402
from support.workflow_fakes import Failure, Recorded, make_runner  # noqa: E402

INCIDENT = "inc-20261128-031722-test"


def signal(detector, kind, name, namespace="production", service="", **metadata):
    target = {"kind": kind, "namespace": "" if kind == "Node" else namespace, "name": name,
              "node": name if kind == "Node" else ""}
    return {"signal_id": "%s.%s.%s" % (detector, kind.lower(), name), "detector": detector,
            "target": target, "service": service, "severity": "high",
            "first_detected": "2026-11-28T03:17:22Z", "detected_at": "2026-11-28T03:17:22Z",
            "summary": "%s on %s %s" % (detector, kind, name), "evidence": {},
            "metadata": metadata}


RECENT = {"namespace": "production", "deployment": "analytics-worker",
          "current_version": "v1.4.2", "previous_version": "v1.4.1",
          "minutes_since_deploy": 47.0, "deployed_within_window": True,
          "rollback_possible": True}
OLD = dict(RECENT, deployed_within_window=False, minutes_since_deploy=900.0)

# name -> (signal, recorded results, plan, step to escalate, failing action, undo calls
#          [(action, key params)], status after success)
CASES = {
    "memory_leak": (
        signal("memory_leak", "Pod", "analytics-worker-7f8d9", service="analytics-worker",
               time_to_oom_minutes=15),
        {"check_recent_deploys": RECENT},
        ["capture_logs", "rollback_deployment", "wait_for_rollout", "wait_growth_gone",
         "create_fix_task"],
        "rollback_deployment", "wait_for_condition", [], "resolved"),
    "pod_crash_loop": (
        signal("crash_loop", "Pod", "analytics-worker-7f8d9", service="analytics-worker",
               restarts=7, reason="Error"),
        {"check_recent_deploys": RECENT},
        ["capture_logs", "rollback_if_recent_deploy", "wait_for_rollout",
         "scale_up_healthy_replicas", "wait_restarts_stopped", "scale_back_temporary_replica",
         "create_fix_task"],
        "rollback_if_recent_deploy", "wait_for_condition",
        [("scale_deployment", {"deployment": "analytics-worker", "delta": -1})], "resolved"),
    "connection_pool_exhaustion": (
        signal("connection_pool", "Service", "orders", service="orders", utilization_pct=100),
        {}, ["restart_idle_connections", "increase_pool_size_temporarily",
             "wait_no_pending_connections", "create_fix_task"],
        "increase_pool_size_temporarily", "wait_for_condition", [], "resolved"),
    "cascade_protection": (
        signal("error_rate", "Service", "payments", service="payments"),
        {"diagnose": {"playbook": "cascade_protection",
                      "playbook_params": {"dependents": ["checkout", "orders"]}}},
        ["enable_circuit_breaker", "enable_circuit_breaker", "notify_dependents",
         "wait_dependents_recovered"],
        "notify_dependents", "notify_dependents",
        [("configure_circuit_breaker", {"service": "orders", "revert": True}),
         ("configure_circuit_breaker", {"service": "checkout", "revert": True})], "resolved"),
    "disk_pressure": (
        signal("disk_pressure", "Node", "node-7", avail_pct=4.0),
        {}, ["cordon_node", "evict_non_critical_pods", "wait_disk_available", "uncordon_node",
             "create_fix_task"],
        "evict_non_critical_pods", "wait_for_condition",
        [("uncordon_node", {"node": "node-7"})], "resolved"),
    "certificate_expiry": (
        signal("certificate_expiry", "Certificate", "api-tls", days_left=5),
        {}, ["notify_channel", "create_fix_task"], "create_fix_task", "create_fix_task", [],
        "escalated"),
    "cpu_throttling": (
        signal("cpu_throttling", "Pod", "web-5d9f-abc", service="web", throttled_ratio=0.6),
        {}, ["scale_out", "wait_throttling_gone", "create_fix_task"], "scale_out",
        "wait_for_condition", [("scale_deployment", {"deployment": "web", "delta": -1})],
        "resolved"),
    "node_not_ready": (
        signal("node_not_ready", "Node", "node-3", ready_status="Unknown"),
        {"diagnose": {"node_pool": "pool-a"}},
        ["cordon_node", "drain_node", "scale_node_pool", "wait_workloads_available",
         "create_fix_task"], "drain_node",
        "drain_node", [("uncordon_node", {"node": "node-3"})], "resolved"),
    "latency_anomaly": (
        signal("latency_anomaly", "Service", "analytics-worker", service="analytics-worker"),
        {"check_recent_deploys": RECENT},
        ["rollback_deployment", "wait_for_rollout", "wait_symptom_recovered", "create_fix_task"],
        "rollback_deployment", "wait_for_rollout", [], "resolved"),
    "error_rate": (
        signal("error_rate", "Service", "analytics-worker", service="analytics-worker"),
        {"check_recent_deploys": RECENT},
        ["rollback_deployment", "wait_for_rollout", "wait_symptom_recovered", "create_fix_task"],
        "rollback_deployment", "create_fix_task", [], "resolved"),
}


def run(pack, clock, name, recorded, approve="approve", sig=None):
    runner = make_runner(recorded, clock, approve)
    sig = sig or CASES[name][0]
    execution = runner.run("self_healing." + name, {"signal": sig, "target_key": "x"})
    return execution, runner


def mutating_calls(recorded):
    return [c for c in recorded.calls if "dry_run" in c["params"]
            and c["ref"] != "self_healing.check_policy"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_success_path(pack, manual_clock, name):
    sig, results, plan, _, _, _, final = CASES[name]
    recorded = Recorded(pack, results)
    execution, runner = run(pack, manual_clock, name, recorded)
    assert execution.status == "succeeded", execution.result
    assert execution.result["output"]["plan"] == plan
    assert execution.result["output"]["incident_id"] == INCIDENT
    assert [g["step"] for g in recorded.gate_calls] == plan
    assert all(g["incident_id"] == INCIDENT for g in recorded.gate_calls)
    assert all(c["params"]["dry_run"] is False for c in mutating_calls(recorded))
    assert recorded.statuses == [{"status": final, "reason": recorded.statuses[0]["reason"]}]
    assert "PLAN" in recorded.types() and "ROLLBACK" not in recorded.types()
    assert runner.chat.messages[-1]["channel"] == "#incidents"
    assert runner.chat.messages[-1]["message"].startswith("DETECT:")


@pytest.mark.parametrize("name", sorted(CASES))
def test_escalation_approved_runs_the_step(pack, manual_clock, name):
    _, results, plan, step, _, _, final = CASES[name]
    recorded = Recorded(pack, results, decisions={step: "escalate"})
    execution, runner = run(pack, manual_clock, name, recorded, approve="approve")
    assert execution.status == "succeeded", execution.result
    regated = [g for g in recorded.gate_calls if g.get("approved")]
    assert [g["step"] for g in regated] == [step]
    assert recorded.statuses[-1]["status"] == final
    assert runner.inquiry_policy.inquiries[0].status == "approved"
    assert any(step in m["message"] and "Approval needed" in m["message"]
               for m in runner.chat.messages)


@pytest.mark.parametrize("name", sorted(CASES))
def test_escalation_denied_stops_and_undoes(pack, manual_clock, name):
    _, results, plan, step, _, _, _ = CASES[name]
    recorded = Recorded(pack, results, decisions={step: "escalate"})
    execution, _ = run(pack, manual_clock, name, recorded, approve="deny")
    assert execution.status == "succeeded"
    forward = [g["step"] for g in recorded.gate_calls if not g["step"].startswith("revert_")]
    assert forward == plan[:plan.index(step) + 1]
    assert recorded.statuses[-1]["status"] == "escalated"
    executed = plan[:plan.index(step)]
    if "cordon_node" in executed:
        assert recorded.called("uncordon_node")[-1]["dry_run"] is False
        assert recorded.types()[-1] == "ROLLBACK"
        # the undo passed the gate too, as a restoring step, before it ran
        assert "revert_cordon" in [g["step"] for g in recorded.gate_calls]


@pytest.mark.parametrize("name", sorted(CASES))
def test_failure_runs_the_rollback_steps(pack, manual_clock, name):
    _, results, plan, _, failing, undo, _ = CASES[name]
    results = dict(results)
    results[failing] = Failure({"error": "injected failure of %s" % failing})
    recorded = Recorded(pack, results)
    execution, _ = run(pack, manual_clock, name, recorded)
    assert execution.status == "failed"
    assert recorded.statuses[-1]["status"] == "failed"
    failed_at = [c["ref"] for c in recorded.calls].index("self_healing." + failing)
    after = recorded.calls[failed_at + 1:]
    undone = [(c["ref"].split(".")[1], c["params"]) for c in after
              if c["ref"] not in ("self_healing.record_timeline", "self_healing.check_policy",
                                  "self_healing.set_incident_status",
                                  "self_healing.create_incident_report")]
    assert len(undone) == len(undo)
    for (action, params), (want_action, want) in zip(undone, undo):
        assert action == want_action
        assert {k: params.get(k) for k in want} == want
    assert recorded.types().count("ROLLBACK") == len(undo)
    assert any("FAILED" in e["message"] for e in recorded.timeline)


def test_latency_hands_over_to_the_root_cause_playbook(pack, manual_clock):
    root = signal("memory_pressure", "Node", "node-1")
    recorded = Recorded(pack, {
        "diagnose": {"playbook": "memory_pressure_node", "root_cause": root,
                     "playbook_params": {"dependents": ["checkout"]}},
        "identify_top_memory_pods": {"top_service": ""}})
    execution, runner = run(pack, manual_clock, "latency_anomaly", recorded)
    assert execution.status == "succeeded", execution.result
    refs = [e.ref for e in runner.executions if e.runner_type == "orquesta"]
    assert "self_healing.memory_pressure_node" in refs
    assert "self_healing.cascade_protection" not in refs
    assert recorded.called("cordon_node")[0]["node"] == "node-1"
    assert any("hand over to playbook memory_pressure_node" in e["message"]
               for e in recorded.timeline)
    assert len(recorded.statuses) == 1


def test_degraded_upstream_protects_dependents_then_rolls_back(pack, manual_clock):
    recorded = Recorded(pack, {
        "diagnose": {"playbook": "cascade_protection",
                     "playbook_params": {"dependents": ["checkout", "frontend"]}},
        "check_recent_deploys": RECENT})
    execution, runner = run(pack, manual_clock, "error_rate", recorded)
    assert execution.status == "succeeded", execution.result
    breakers = recorded.called("configure_circuit_breaker")
    assert [(b["service"], b["upstream"]) for b in breakers] == [
        ("checkout", "analytics-worker"), ("frontend", "analytics-worker")]
    assert recorded.called("notify_dependents")[0]["dependents"] == ["checkout", "frontend"]
    assert recorded.called("rollback_deployment")[0]["deployment"] == "analytics-worker"
    assert recorded.refs().index("self_healing.notify_dependents") < \
        recorded.refs().index("self_healing.rollback_deployment")


def test_symptom_joining_an_open_incident_does_nothing(pack, manual_clock):
    recorded = Recorded(pack, {"diagnose": {"joined": True, "playbook": "cascade_protection",
                                            "playbook_params": {"dependents": ["x"]}}})
    execution, _ = run(pack, manual_clock, "error_rate", recorded)
    assert execution.status == "succeeded"
    assert execution.result["output"]["outcome"] == "joined"
    assert recorded.refs() == ["self_healing.diagnose"]


def test_error_rate_without_cause_or_recent_deploy_escalates(pack, manual_clock):
    recorded = Recorded(pack, {"check_recent_deploys": OLD})
    execution, _ = run(pack, manual_clock, "error_rate", recorded)
    assert execution.status == "succeeded"
    assert execution.result["output"]["plan"] == ["notify_channel"]
    assert recorded.statuses[-1]["status"] == "escalated"
    assert not recorded.called("rollback_deployment")


def test_memory_leak_without_recent_deploy_restarts_the_pod(pack, manual_clock):
    recorded = Recorded(pack, {"check_recent_deploys": OLD})
    execution, _ = run(pack, manual_clock, "memory_leak", recorded)
    assert execution.result["output"]["plan"] == ["capture_logs", "restart_pod",
                                                  "create_fix_task"]
    assert recorded.called("restart_pod")[0]["pod"] == "analytics-worker-7f8d9"


def test_cascade_without_dependents_changes_nothing(pack, manual_clock):
    recorded = Recorded(pack, {"diagnose": {"playbook": "cascade_protection"}})
    execution, _ = run(pack, manual_clock, "cascade_protection", recorded)
    assert execution.status == "succeeded"
    assert not recorded.called("configure_circuit_breaker")
    assert recorded.statuses[-1]["status"] == "resolved"


def test_joined_signal_that_refines_the_root_cause_runs_its_playbook(pack, manual_clock):
    recorded = Recorded(pack, {"diagnose": {"joined": True, "refined": True,
                                            "refined_playbook": "connection_pool_exhaustion",
                                            "playbook": "latency_anomaly"}})
    execution, _ = run(pack, manual_clock, "connection_pool_exhaustion", recorded)
    assert execution.status == "succeeded"
    assert recorded.called("increase_pool_size_temporarily")
    assert recorded.statuses[-1]["status"] == "resolved"


def test_joined_symptom_with_a_refined_cause_hands_over(pack, manual_clock):
    pool = signal("connection_pool", "Service", "orders", service="orders")
    recorded = Recorded(pack, {"diagnose": {"joined": True, "refined": True,
                                            "refined_playbook": "connection_pool_exhaustion",
                                            "root_cause": pool}})
    execution, runner = run(pack, manual_clock, "error_rate", recorded)
    assert execution.status == "succeeded"
    child = [e for e in runner.executions if e.ref == "self_healing.connection_pool_exhaustion"]
    assert len(child) == 1 and child[0].parameters["signal"]["target"]["name"] == "orders"
    assert recorded.called("restart_idle_connections")[0]["service"] == "orders"


def test_protected_dependents_without_rollback_watch_the_symptom_recover(pack, manual_clock):
    # a chain: checkout is called by web, so breakers on checkout contain the cascade
    recorded = Recorded(pack, {
        "diagnose": {"playbook": "cascade_protection",
                     "playbook_params": {"dependents": ["checkout"],
                                         "downstream": ["checkout", "web"]}},
        "check_recent_deploys": OLD})
    execution, _ = run(pack, manual_clock, "latency_anomaly", recorded)
    assert execution.status == "succeeded", execution.result
    assert execution.result["output"]["plan"] == ["notify_channel", "wait_dependents_recovered",
                                                  "create_fix_task"]
    # the breakers protect the dependents: their own p99 is what must come back
    wait = recorded.called("wait_for_condition")[0]
    assert "histogram_quantile(0.99" in wait["query"] and "checkout" in wait["query"]
    assert wait["comparator"] == "<" and wait["threshold"] == 2
    assert recorded.statuses[-1]["status"] == "resolved"


def test_protected_edge_callers_leave_the_root_to_a_human(pack, manual_clock):
    # the only caller is an edge service: no chain to contain, the root itself needs a human
    recorded = Recorded(pack, {
        "diagnose": {"playbook": "cascade_protection",
                     "playbook_params": {"dependents": ["web"], "downstream": ["web"]}},
        "check_recent_deploys": OLD})
    execution, _ = run(pack, manual_clock, "latency_anomaly", recorded)
    assert execution.status == "succeeded", execution.result
    assert [b["service"] for b in recorded.called("configure_circuit_breaker")] == ["web"]
    assert execution.result["output"]["plan"] == ["notify_channel"]
    # its rounds of waiting watch the root's own p99, never the dependents' recovery
    waits = recorded.called("wait_for_condition")
    assert waits and not [w for w in waits if "dependents" in w["description"]]
    assert recorded.statuses[-1]["status"] == "escalated"
    assert any("its dependents web are protected by circuit breakers); a human should look"
               in e["message"]
               for e in recorded.timeline)


def test_run_playbook_from_chat_is_a_dry_run_by_default(pack, manual_clock):
    recorded = Recorded(pack, {"check_recent_deploys": RECENT})
    runner = make_runner(recorded, manual_clock)
    execution = runner.run("self_healing.run_playbook", {
        "playbook": "pod_crash_loop", "kind": "pod", "namespace": "production",
        "name": "analytics-worker-7f8d9", "service": "analytics-worker",
        "requested_by": "alice"})
    assert execution.status == "succeeded", execution.result
    assert execution.result["output"]["dry_run"] is True
    sig = recorded.called("diagnose")[0]["signal"]
    assert sig["target"] == {"kind": "Pod", "namespace": "production",
                             "name": "analytics-worker-7f8d9", "node": ""}
    assert sig["detector"] == "crash_loop" and "alice" in sig["summary"]
    assert all(g["dry_run"] is True for g in recorded.gate_calls)
    assert recorded.called("rollback_deployment")[0]["dry_run"] is True
    assert recorded.statuses[-1]["status"] == "escalated"


def test_run_playbook_for_real_on_a_node(pack, manual_clock):
    recorded = Recorded(pack, {})
    runner = make_runner(recorded, manual_clock)
    execution = runner.run("self_healing.run_playbook", {
        "playbook": "disk_pressure", "name": "node-9", "dry_run": False})
    assert execution.status == "succeeded", execution.result
    assert recorded.called("cordon_node")[0] == {"node": "node-9", "incident_id": INCIDENT,
                                                 "dry_run": False}
    assert recorded.statuses[-1]["status"] == "resolved"


class RefinedLater(Recorded):
    """The second diagnosis (after the grace period) finds a refined root cause."""

    def diagnose(self, params):
        result = super(RefinedLater, self).diagnose(params)
        if params.get("incident_id"):
            result["root_cause"] = signal("node_not_ready", "Node", "node-3")
        return result


def test_unexplained_symptom_waits_for_a_cause_before_escalating(pack, manual_clock):
    recorded = Recorded(pack, {"check_recent_deploys": OLD})
    execution, _ = run(pack, manual_clock, "latency_anomaly", recorded)
    assert execution.status == "succeeded"
    assert recorded.statuses == [{"status": "escalated",
                                  "reason": recorded.statuses[0]["reason"]}]
    # it watched the young symptom first, then in five rounds of at least a minute each
    # (the symptom's own p99 below its threshold would have ended it), one re-diagnosis each
    assert len(recorded.called("watch_symptom")) == 1
    rounds = recorded.called("wait_for_condition")
    assert len(rounds) == 5 and sum(r["timeout_s"] for r in rounds) >= 300
    assert {(r["comparator"], r["threshold"]) for r in rounds} == {("<", 2 * 250.0)}
    assert all("irate(" in r["query"] for r in rounds)  # the p99 now, not the window's
    assert len(recorded.called("diagnose")) == 6
    # the only step planned was telling a human
    assert [g["action"] for g in recorded.gate_calls] == ["chatops.post_message"]


def test_a_young_unexplained_symptom_that_clears_by_itself_changes_nothing(pack,
                                                                         manual_clock):
    # even with its dependents affected (a cascade to protect), the watch comes first
    cleared = {"state": "cleared", "watched_s": 75.0, "window_s": 150.0, "value": 120.0,
               "reason": "cleared by itself: below its threshold for 60 s", "for_s": 180.0}
    recorded = Recorded(pack, {
        "diagnose": {"playbook": "cascade_protection", "affected_services": ["checkout"],
                     "playbook_params": {"dependents": ["checkout"],
                                         "downstream": ["checkout"]}},
        "check_recent_deploys": OLD, "watch_symptom": cleared})
    execution, _ = run(pack, manual_clock, "latency_anomaly", recorded)
    assert execution.status == "succeeded", execution.result
    assert execution.result["output"]["outcome"] == "cleared"
    watch = recorded.called("watch_symptom")[0]
    assert "histogram_quantile(0.99" in watch["query"] and "irate(" in watch["query"]
    assert watch["threshold"] == 500
    assert not recorded.gate_calls and not recorded.called("configure_circuit_breaker")
    assert recorded.statuses == [{"status": "resolved", "reason": recorded.statuses[0]["reason"]}]
    assert "cleared by itself" in recorded.statuses[0]["reason"]


def test_a_symptom_with_a_deploy_to_roll_back_is_not_watched(pack, manual_clock):
    recorded = Recorded(pack, {"diagnose": {"playbook_params": {"recent_deploy": True}},
                               "check_recent_deploys": RECENT})
    execution, _ = run(pack, manual_clock, "error_rate", recorded)
    assert execution.status == "succeeded", execution.result
    assert not recorded.called("watch_symptom")
    assert recorded.called("rollback_deployment")


def test_a_symptom_that_clears_while_waiting_for_a_cause_ends_resolved(pack, manual_clock):
    answers = iter([{"met": False}, {"met": True, "value": 0.01}])
    recorded = Recorded(pack, {"check_recent_deploys": OLD,
                               "wait_for_condition": lambda params: next(answers)})
    execution, _ = run(pack, manual_clock, "error_rate", recorded)
    assert execution.status == "succeeded", execution.result
    assert execution.result["output"]["outcome"] == "cleared"
    assert len(recorded.called("wait_for_condition")) == 2
    assert [s["status"] for s in recorded.statuses] == ["resolved"]
    assert not recorded.gate_calls


def test_symptom_explained_during_the_grace_period_leaves_the_incident_alone(pack,
                                                                           manual_clock):
    recorded = RefinedLater(pack, {"check_recent_deploys": OLD})
    execution, _ = run(pack, manual_clock, "latency_anomaly", recorded)
    assert execution.status == "succeeded"
    assert execution.result["output"]["outcome"] == "refined"
    assert not recorded.statuses  # the refined cause's own workflow closes the incident
    assert not recorded.gate_calls


class CascadeGrows(Recorded):
    """The root's caller shows symptoms after the first diagnosis (it joined the incident)."""

    def diagnose(self, params):
        result = super(CascadeGrows, self).diagnose(params)
        if params.get("incident_id"):
            result["affected_services"] = ["analytics-worker", "checkout"]
        return result


def test_dependents_joining_later_are_protected_by_the_owning_run(pack, manual_clock):
    recorded = CascadeGrows(pack, {
        "diagnose": {"playbook": "latency_anomaly", "affected_services": ["analytics-worker"],
                     "playbook_params": {"dependents": ["checkout"],
                                         "downstream": ["checkout", "web"]}},
        "check_recent_deploys": OLD})
    start = manual_clock.now()
    execution, runner = run(pack, manual_clock, "latency_anomaly", recorded)
    assert execution.status == "succeeded", execution.result
    breakers = recorded.called("configure_circuit_breaker")
    assert [(b["service"], b["upstream"]) for b in breakers] == [
        ("checkout", "analytics-worker")]
    # acted after one round (the third diagnosis is cascade_protection's own)
    assert len(recorded.called("diagnose")) == 3
    assert manual_clock.now() - start < 300 + 600
    assert execution.result["output"]["plan"] == ["notify_channel", "wait_dependents_recovered",
                                                  "create_fix_task"]
    assert recorded.statuses[-1]["status"] == "resolved"


class RefinedToUpstream(Recorded):
    """A deeper upstream service's latency refined the root; its own run only joined."""

    def diagnose(self, params):
        result = super(RefinedToUpstream, self).diagnose(params)
        if params.get("incident_id"):
            result.update(
                root_cause=signal("latency_anomaly", "Service", "cache", service="cache"),
                playbook="latency_anomaly", playbooks_ran=["latency_anomaly"], handovers=[],
                affected_services=["gateway", "api", "cache"],
                playbook_params={"dependents": ["api"], "downstream": ["api", "gateway"]})
        return result


def test_root_refined_to_a_deeper_symptom_is_planned_for_by_the_owning_run(pack,
                                                                          manual_clock):
    recorded = RefinedToUpstream(pack, {
        "diagnose": {"playbook": "latency_anomaly", "affected_services": ["gateway"],
                     "playbooks_ran": ["latency_anomaly"], "playbook_params": {}},
        "check_recent_deploys": OLD})
    sig = signal("latency_anomaly", "Service", "gateway", service="gateway")
    execution, _ = run(pack, manual_clock, "latency_anomaly", recorded, sig=sig)
    assert execution.status == "succeeded", execution.result
    breakers = recorded.called("configure_circuit_breaker")
    assert [(b["service"], b["upstream"]) for b in breakers] == [("api", "cache")]
    assert recorded.called("check_recent_deploys")[-1]["deployment"] == "cache"
    assert any("root cause now" in e["message"] for e in recorded.timeline)
    assert recorded.statuses[-1]["status"] == "resolved"


def test_an_undo_the_gate_refuses_is_left_in_place_and_said(pack, manual_clock):
    name = "disk_pressure"
    _, results, plan, _, failing, undo, _ = CASES[name]
    assert ("uncordon_node", {"node": "node-7"}) in undo
    results = dict(results)
    results[failing] = Failure({"error": "injected failure of %s" % failing})
    recorded = Recorded(pack, results, decisions={"revert_cordon": "deny"})
    execution, _ = run(pack, manual_clock, name, recorded)
    assert execution.status == "failed"
    assert recorded.called("uncordon_node") == []
    assert any(e["type"] == "ROLLBACK" and e["message"].startswith("left in place")
               for e in recorded.timeline)


LONG_RUNWAY = signal("memory_leak", "Pod", "analytics-worker-7f8d9", service="analytics-worker",
                     time_to_oom_minutes=45)
WITH_PREVIOUS = dict(RECENT, previous_revision=3, current_revision=4, revisions=[
    {"revision": 4, "replicaset": "analytics-worker-new"},
    {"revision": 3, "replicaset": "analytics-worker-old"}])


def verdicts(*answers):
    """judge_memory_curve answering each call with the next of `answers` (the last repeats)."""
    calls = []

    def answer(params):
        calls.append(params)
        return answers[min(len(calls), len(answers)) - 1]
    answer.calls = calls
    return answer


LEAK_45 = {"verdict": "leak", "runway_min": 45.0, "conclusive": False,
           "reason": "analytics-worker-7f8d9 grows towards its limit (linear model)"}
WARMUP = {"verdict": "warmup", "runway_min": None, "conclusive": False,
          "reason": "every growing pod approaches a plateau below its limit"}


def test_leak_judged_a_warm_up_is_closed_as_a_false_alarm_without_a_change(
        pack, manual_clock):
    judge = verdicts(WARMUP)
    recorded = Recorded(pack, {"check_recent_deploys": WITH_PREVIOUS,
                               "judge_memory_curve": judge})
    execution, _ = run(pack, manual_clock, "memory_leak", recorded, sig=LONG_RUNWAY)
    assert execution.status == "succeeded", execution.result
    assert execution.result["output"]["outcome"] == "false_alarm"
    assert not mutating_calls(recorded)
    assert judge.calls[0]["previous_rs"] == "analytics-worker-old"
    assert judge.calls[0]["container"] == "analytics-worker"
    assert not recorded.called("wait_for_condition")
    assert "plateau below its limit" in recorded.called("mark_false_positive")[0]["reason"]
    assert recorded.statuses[-1]["status"] == "resolved"


def test_inconclusive_long_runway_is_watched_and_judged_again(pack, manual_clock):
    judge = verdicts(LEAK_45, WARMUP)
    recorded = Recorded(pack, {"check_recent_deploys": RECENT, "judge_memory_curve": judge,
                               "wait_for_condition": Failure({"met": False})})
    execution, _ = run(pack, manual_clock, "memory_leak", recorded, sig=LONG_RUNWAY)
    assert execution.result["output"]["outcome"] == "false_alarm"
    assert len(judge.calls) == 2
    watch = recorded.called("wait_for_condition")
    assert len(watch) == 1 and watch[0]["timeout_s"] == 300
    assert not mutating_calls(recorded)
    assert any("judge again" in e["message"] for e in recorded.timeline)


def test_leak_is_acted_on_once_its_runway_gets_short(pack, manual_clock):
    judge = verdicts(*[dict(LEAK_45, runway_min=m) for m in (45.0, 37.0, 29.0, 19.5)])
    recorded = Recorded(pack, {"check_recent_deploys": RECENT, "judge_memory_curve": judge,
                               "wait_for_condition": {"met": True}})
    execution, _ = run(pack, manual_clock, "memory_leak", recorded, sig=LONG_RUNWAY)
    assert recorded.called("rollback_deployment")
    assert len(judge.calls) == 4
    # three watches before acting, then the plan's own verification
    assert [w["timeout_s"] for w in recorded.called("wait_for_condition")][:3] == [300] * 3
    assert any("19.5 min is short" in e["message"] for e in recorded.timeline)


def test_leak_still_growing_after_the_longest_watch_is_rolled_back(pack, manual_clock):
    recorded = Recorded(pack, {"check_recent_deploys": RECENT,
                               "judge_memory_curve": verdicts(LEAK_45),
                               "wait_for_condition": Failure({"met": False})})
    execution, _ = run(pack, manual_clock, "memory_leak", recorded, sig=LONG_RUNWAY)
    assert recorded.called("rollback_deployment")
    assert len(recorded.called("judge_memory_curve")) == 7   # 6 watches of 5 min
    assert any("still growing" in e["message"] for e in recorded.timeline)


def test_without_a_verdict_the_signals_runway_counts_down_while_watched(pack, manual_clock):
    recorded = Recorded(pack, {"check_recent_deploys": RECENT,
                               "judge_memory_curve": Failure({"error": "prometheus down"}),
                               "wait_for_condition": {"met": True}})
    execution, _ = run(pack, manual_clock, "memory_leak", recorded, sig=LONG_RUNWAY)
    # 45 min at the signal: five watches of 5 min leave 20 min, short enough to act
    assert len(recorded.called("judge_memory_curve")) == 6
    assert recorded.called("rollback_deployment")


def test_leak_above_the_previous_versions_plateau_is_acted_on_at_once(pack, manual_clock):
    judge = verdicts(dict(LEAK_45, conclusive=True, reason="uses more than 1.2x the plateau"))
    recorded = Recorded(pack, {"check_recent_deploys": WITH_PREVIOUS,
                               "judge_memory_curve": judge})
    execution, _ = run(pack, manual_clock, "memory_leak", recorded, sig=LONG_RUNWAY)
    assert judge.calls[0]["previous_rs"] == "analytics-worker-old"
    assert recorded.called("rollback_deployment")
    # no watch before the rollback: the first wait is the plan's verification
    assert recorded.refs().index("self_healing.rollback_deployment") < recorded.refs().index(
        "self_healing.wait_for_condition")
    assert any("conclusive" in e["message"] for e in recorded.timeline)


SHORT_RUNWAY = dict(LONG_RUNWAY, metadata={"time_to_oom_minutes": 15})


def test_a_rollback_that_did_not_help_is_rolled_forward_and_closed_as_a_false_alarm(
        pack, manual_clock):
    judge = verdicts(dict(LEAK_45, runway_min=15.0),
                     {"verdict": "leak", "runway_min": 30.0, "conclusive": False,
                      "reason": "grows", "previous": {"seen": True, "same_rise": True}})
    recorded = Recorded(pack, {"check_recent_deploys": WITH_PREVIOUS,
                               "judge_memory_curve": judge,
                               "wait_for_condition": Failure({"met": False})})
    execution, _ = run(pack, manual_clock, "memory_leak", recorded, sig=SHORT_RUNWAY)
    assert execution.status == "succeeded", execution.result
    assert execution.result["output"]["outcome"] == "false_alarm"
    # after the rollback, the restored pods are compared with the rolled-back version's
    assert judge.calls[1]["previous_rs"] == "analytics-worker-new"
    rollbacks = recorded.called("rollback_deployment")
    assert [r["to_revision"] for r in rollbacks] == [0, 4]
    assert [g["step"] for g in recorded.gate_calls][-1] == "roll_forward"
    assert any("did not help" in e["message"] and "rolled forward" in e["message"]
               for e in recorded.timeline)
    assert recorded.called("mark_false_positive")
    assert recorded.statuses[-1]["status"] == "resolved"


def test_a_rollback_whose_restored_pods_grow_differently_is_not_undone(pack, manual_clock):
    judge = verdicts(dict(LEAK_45, runway_min=15.0),
                     {"verdict": "no_growth", "runway_min": None, "conclusive": False,
                      "reason": "flat", "previous": {"seen": True, "same_rise": False}})
    recorded = Recorded(pack, {"check_recent_deploys": WITH_PREVIOUS,
                               "judge_memory_curve": judge,
                               "wait_for_condition": Failure({"met": False})})
    execution, _ = run(pack, manual_clock, "memory_leak", recorded, sig=SHORT_RUNWAY)
    assert execution.result["output"]["outcome"] == "failed"
    assert len(recorded.called("rollback_deployment")) == 1
    assert not recorded.called("mark_false_positive")


def test_a_roll_forward_the_gate_denies_goes_to_a_human(pack, manual_clock):
    judge = verdicts(dict(LEAK_45, runway_min=15.0),
                     {"verdict": "leak", "runway_min": 30.0, "conclusive": False,
                      "reason": "grows", "previous": {"seen": True, "same_rise": True}})
    recorded = Recorded(pack, {"check_recent_deploys": WITH_PREVIOUS,
                               "judge_memory_curve": judge,
                               "wait_for_condition": Failure({"met": False})},
                        decisions={"roll_forward": "deny"})
    execution, _ = run(pack, manual_clock, "memory_leak", recorded, sig=SHORT_RUNWAY)
    assert len(recorded.called("rollback_deployment")) == 1
    assert not recorded.called("mark_false_positive")
    assert execution.result["output"]["outcome"] in ("escalated", "failed")


def test_cascade_protection_as_a_sub_workflow_leaves_the_incident_to_its_caller(
        pack, manual_clock):
    recorded = Recorded(pack, {})
    runner = make_runner(recorded, manual_clock)
    execution = runner.run("self_healing.cascade_protection", {
        "signal": CASES["cascade_protection"][0], "target_key": "x",
        "dependents": ["checkout"], "incident_id": INCIDENT})
    assert execution.status == "succeeded", execution.result
    assert recorded.called("configure_circuit_breaker")
    assert not recorded.statuses  # the caller sets the status when its own plan is done
    assert not recorded.called("wait_for_condition")


@pytest.mark.parametrize("kind,namespace,name", [
    ("node", "production", "Node-9"), ("pod", "production", "analytics-worker-7f8d9"),
    ("deployment", "", "checkout")])
def test_run_playbook_serialises_on_the_sensor_target_key(pack, manual_clock, kind, namespace,
                                                          name):
    """A chat run and a detector signal about one target share one concurrency key."""
    recorded = Recorded(pack, {"check_recent_deploys": RECENT})
    runner = make_runner(recorded, manual_clock)
    runner.run("self_healing.run_playbook", {
        "playbook": "disk_pressure" if kind == "node" else "pod_crash_loop", "kind": kind,
        "namespace": namespace, "name": name})
    started = [e for e in runner.executions
               if e.ref in ("self_healing.disk_pressure", "self_healing.pod_crash_loop")][0]
    target_kind = {"node": "Node", "pod": "Pod", "deployment": "Deployment"}[kind]
    expected = target_key(target_kind, None if kind == "node" else namespace, name)
    assert started.parameters["target_key"] == expected


@pytest.mark.parametrize("refused", ["orders", "checkout"])
def test_two_undos_one_refused_by_the_gate_are_both_attempted(pack, manual_clock, refused):
    """run_plan's with-items over undo_step: the refused undo is left in place and said, the
    other still runs; newest first; run_plan reports the one undone and the gate's reason."""
    name = "cascade_protection"
    _, results, _, _, failing, _, _ = CASES[name]
    results = dict(results)
    results[failing] = Failure({"error": "injected failure of %s" % failing})
    step = "revert_breaker_" + refused
    recorded = Recorded(pack, results, decisions={step: "deny"})
    execution, runner = run(pack, manual_clock, name, recorded)
    assert execution.status == "failed"
    assert recorded.statuses[-1]["status"] == "failed"
    reverts = [g["step"] for g in recorded.gate_calls if g["step"].startswith("revert_")]
    assert reverts == ["revert_breaker_orders", "revert_breaker_checkout"]
    kept = {"orders": "checkout", "checkout": "orders"}[refused]
    undone = [c["service"] for c in recorded.called("configure_circuit_breaker") if c["revert"]]
    assert undone == [kept]
    rollbacks = [e for e in recorded.timeline if e["type"] == "ROLLBACK"]
    assert [(e["step"], e["outcome"]) for e in rollbacks] == sorted(
        [("breaker_" + refused, "refused"), ("breaker_" + kept, "undone")],
        key=lambda pair: pair[0] != "breaker_orders")
    left = [e for e in rollbacks if e["outcome"] == "refused"][0]
    assert left["kind"] == "undo" and left["action_ref"] == "self_healing.configure_circuit_breaker"
    assert left["left_in_place"] == [left["target"]] and left["target"]["name"] == refused
    assert left["message"] == (
        "left in place: remove circuit breaker %s -> payments was not run (recorded decision "
        "deny for %s); a human must finish it" % (refused, step))
    done = [e for e in rollbacks if e["outcome"] == "undone"][0]
    assert done["message"] == "remove circuit breaker %s -> payments" % kept
    assert not done.get("left_in_place")
    plan_run = [e for e in runner.executions if e.ref == "self_healing.run_plan"][-1]
    output = plan_run.result["output"]
    assert output["outcome"] == "failed"
    assert output["undone"] == ["breaker_" + kept]
    assert output["reason"] == "recorded decision deny for %s" % step


def test_a_failing_undo_is_said_and_the_next_undo_still_runs(pack, manual_clock):
    name = "cascade_protection"
    _, results, _, _, failing, _, _ = CASES[name]
    results = dict(results)
    results[failing] = Failure({"error": "injected failure of %s" % failing})

    def breaker(params):
        if params.get("revert") and params["service"] == "orders":
            return Failure({"error": "injected failure of the orders undo"})
        return {"changed": True}
    results["configure_circuit_breaker"] = breaker
    recorded = Recorded(pack, results)
    execution, runner = run(pack, manual_clock, name, recorded)
    assert execution.status == "failed"
    rollbacks = [e for e in recorded.timeline if e["type"] == "ROLLBACK"]
    assert [(e["step"], e["outcome"]) for e in rollbacks] == [
        ("breaker_orders", "failed"), ("breaker_checkout", "undone")]
    assert rollbacks[0]["failed"] is True
    assert rollbacks[0]["left_in_place"] == [rollbacks[0]["target"]]
    assert rollbacks[0]["message"] == (
        "FAILED to remove circuit breaker orders -> payments: a human must finish it")
    output = [e for e in runner.executions if e.ref == "self_healing.run_plan"][-1].result["output"]
    assert output["undone"] == ["breaker_checkout"]


def test_a_plan_superseded_by_a_refinement_stops_undoes_and_leaves_the_incident_to_its_owner(
        pack, manual_clock):
    # the gate denies evict_non_critical_pods with check superseded (the incident was refined
    # to another playbook): the plan stops there, the cordon it made is undone, and this run
    # neither sets the incident's status nor reports it (its new owner does)
    name = "disk_pressure"
    _, results, _, _, _, _, _ = CASES[name]
    recorded = Recorded(pack, dict(results), decisions={"evict_non_critical_pods": "deny"})
    recorded.checks["evict_non_critical_pods"] = "superseded"
    execution, _ = run(pack, manual_clock, name, recorded)
    assert execution.status == "succeeded"
    assert execution.result["output"]["outcome"] == "superseded"
    assert recorded.called("evict_pods") == []
    assert [c["node"] for c in recorded.called("uncordon_node")] == ["node-7"]
    assert recorded.statuses == []
    assert recorded.called("create_incident_report") == []
    notes = [e for e in recorded.timeline if e.get("kind") == "note"]
    assert len(notes) == 1 and notes[0]["message"].startswith("this run's plan stopped")
    assert not any(e.get("kind") == "escalation" for e in recorded.timeline)


def test_an_ordinary_denial_with_on_deny_stop_still_escalates(pack, manual_clock):
    name = "disk_pressure"
    _, results, _, _, _, _, _ = CASES[name]
    recorded = Recorded(pack, dict(results), decisions={"evict_non_critical_pods": "deny"})
    recorded.checks["evict_non_critical_pods"] = "rate"
    execution, _ = run(pack, manual_clock, name, recorded)
    assert execution.result["output"]["outcome"] == "escalated"
    assert [s["status"] for s in recorded.statuses] == ["escalated"]
    assert recorded.called("create_incident_report") != []

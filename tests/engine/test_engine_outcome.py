"""Judging a replay against ground truth, and the closing figures."""
from harness import outcome

TRUTH = {"kind": "fault", "expected_outcome": "remediate",
         "root_cause": {"detector": "memory_pressure", "target": {"kind": "Node", "name": "n1"}},
         "root_causes": [{"detector": "memory_pressure", "target": {"kind": "Node", "name": "n1"}}],
         "cause_service": "analytics-worker",
         "acceptable_remediations": ["cordon_node", "rollback_deployment"]}


def execution(name, status="succeeded", dry_run=False, changed=True):
    return {"ref": "self_healing." + name, "status": status, "parameters": {"dry_run": dry_run},
            "result": {"result": {"changed": changed, "dry_run": dry_run}}}


def incident(status="resolved", detector="memory_pressure", name="n1", **extra):
    record = {"id": "inc-1", "status": status, "affected_services": ["analytics-worker"],
              "root_cause": {"detector": detector, "target": {"kind": "Node", "name": name},
                             "first_detected": "2026-11-28T03:17:00Z"},
              "detected_at": "2026-11-28T03:17:22Z", "remediated_at": "2026-11-28T03:17:27Z",
              "timeline": [{"at": "2026-11-28T03:17:22Z"}, {"at": "2026-11-28T03:22:01Z"}]}
    record.update(extra)
    return record


def test_remediated_fault_is_ok():
    runs = [execution("cordon_node"), execution("rollback_deployment"),
            execution("uncordon_node"), execution("identify_top_memory_pods")]
    verdict = outcome.assess("autonomous", TRUTH, [incident()], runs)
    assert verdict["ok"], verdict
    assert verdict["mutations"] == ["self_healing.cordon_node",
                                    "self_healing.rollback_deployment",
                                    "self_healing.uncordon_node"]


def test_dry_runs_and_failed_or_unchanged_actions_are_not_changes():
    runs = [execution("cordon_node", dry_run=True), execution("rollback_deployment", "failed"),
            execution("uncordon_node", changed=False)]
    assert outcome.mutations(runs) == []


def test_wrong_root_cause_and_unacceptable_remediation_are_reported():
    runs = [execution("cordon_node"), execution("scale_node_pool")]
    verdict = outcome.assess("autonomous", TRUTH, [incident(detector="disk_pressure",
                                                            name="n2")], runs)
    assert not verdict["ok"]
    assert any("root cause" in r for r in verdict["reasons"])
    assert any("scale_node_pool" in r for r in verdict["reasons"])


def test_benign_scenario_must_not_change_anything():
    truth = {"kind": "benign", "expected_outcome": "none"}
    assert outcome.assess("autonomous", truth, [], [])["ok"]
    assert not outcome.assess("autonomous", truth, [], [execution("cordon_node")])["ok"]


def test_dry_run_mode_must_not_change_anything_but_opens_the_incident():
    ok = outcome.assess("dry_run", TRUTH, [incident(status="resolved")],
                        [execution("cordon_node", dry_run=True)])
    assert ok["ok"], ok
    bad = outcome.assess("dry_run", TRUTH, [incident()], [execution("cordon_node")])
    assert not bad["ok"]


def test_denied_approval_may_end_escalated():
    verdict = outcome.assess("autonomous", TRUTH, [incident(status="escalated")], [],
                             approve="deny")
    assert verdict["ok"] and verdict["observed"] == "escalate"


def test_figures():
    figures = outcome.figures([incident()], None, [], "auto")
    assert figures["time_to_detect_s"] == 22
    assert figures["time_to_remediate_s"] == 5
    assert figures["total_s"] == 279  # 4 min 39 s, as in the seed
    assert figures["human_involvement"] == "none"
    escalated = outcome.figures([incident(status="escalated")], None, [], "auto")
    assert escalated["human_involvement"].startswith("escalated")


def test_pod_truth_names_the_deployment_and_cause_service_counts():
    truth = {"root_causes": [{"detector": "cpu_throttling",
                              "target": {"kind": "Pod", "name": "search-api"}}]}
    pod = {"root_cause": {"detector": "cpu_throttling", "service": "search-api",
                          "target": {"kind": "Pod", "name": "search-api-6d9f-x2"}}}
    other = {"root_cause": {"detector": "cpu_throttling", "service": "search",
                            "target": {"kind": "Pod", "name": "search-7c-x"}}}
    assert outcome.root_cause_matches(pod, truth)
    assert not outcome.root_cause_matches(other, truth)
    leak = {"root_cause": {"detector": "memory_leak", "service": "analytics-worker",
                           "target": {"kind": "Pod", "name": "analytics-worker-1"}}}
    assert outcome.root_cause_matches(leak, TRUTH)  # cause_service analytics-worker


# ---------------------------------------------------------------- honest recovery, incident ends
def test_recovery_is_the_last_uninterrupted_run_that_held():
    held = outcome.condition_series(
        [(0, [90.0]), (15, [60.0]), (30, [91.0]), (45, [60.0]), (60, [61.0]), (75, [62.0]),
         (90, [])], "<", 70)
    assert [ok for _, ok in held] == [False, True, False, True, True, True, False]
    verdict = outcome.recovery_from(held[:6], 30, 75)
    assert verdict["recovered"] and verdict["recovered_at"] == 45
    # no data at the end breaks the run: not recovered
    assert not outcome.recovery_from(held, 30, 90)["recovered"]


def test_a_run_that_stops_before_the_hold_is_not_recovered():
    held = outcome.condition_series([(0, [90.0]), (15, [60.0]), (30, [60.0])], "<", 70)
    verdict = outcome.recovery_from(held, 120, 30)
    assert not verdict["recovered"] and verdict["holding_since"] == 15
    assert verdict["recovered_at"] is None


def test_every_series_must_satisfy_the_condition():
    held = outcome.condition_series([(0, [1.0, 9.0]), (15, [1.0, 2.0])], "<", 5)
    assert [ok for _, ok in held] == [False, True]


def _wait(incident_id, met, finished, hold_s=120):
    return {"id": "w-" + str(finished), "ref": "self_healing.wait_for_condition",
            "status": "succeeded" if met else "failed", "parent": "wf-1",
            "parameters": {"hold_s": hold_s}, "finished_at": finished,
            "result": {"result": {"met": met}}}


def _workflow(incident_id):
    return {"id": "wf-1", "ref": "self_healing.cpu_throttling", "status": "succeeded",
            "parameters": {"incident_id": incident_id}, "parent": None}


def test_metric_verification_only_from_a_met_wait_of_the_incident():
    runs = [_workflow("inc-1"), _wait("inc-1", False, 100.0), _wait("inc-1", True, 300.0)]
    assert outcome.metric_verified_at([{"id": "inc-1"}], runs) == 300.0
    assert outcome.metric_verified_at([{"id": "inc-2"}], runs) is None
    assert outcome.metric_verified_at([{"id": "inc-1"}], runs[:2]) is None


def _record(status, opened="2026-11-28T03:00:00Z", **extra):
    record = {"id": "inc-1", "status": status, "created_at": opened, "timeline": [],
              "status_history": []}
    record.update(extra)
    return record


def test_incident_left_open_breaks_the_invariant():
    rows = outcome.incident_ends([_record("remediating")], [], 1e10)
    assert not rows[0]["ok"] and rows[0]["how"] is None and "left" in rows[0]["problem"]


def test_resolved_after_a_change_needs_a_metric_verification():
    change = dict(execution("scale_deployment"), id="s-1", parent="wf-1")
    resolved = _record("resolved", resolved_at="2026-11-28T03:05:00Z")
    rows = outcome.incident_ends([resolved], [_workflow("inc-1"), change], 1e10)
    assert rows[0]["how"] == "resolved_unverified" and not rows[0]["ok"]
    opened = outcome.epoch_or_none("2026-11-28T03:00:00Z")
    runs = [_workflow("inc-1"), change, _wait("inc-1", True, opened + 250)]
    rows = outcome.incident_ends([resolved], runs, 1e10)
    assert rows[0]["ok"] and rows[0]["how"] == "resolved_verified"
    assert rows[0]["bound_s"] == 720.0  # 10 min plus the verification's 2 min hold


def test_escalation_must_come_within_the_bound():
    late = _record("escalated", status_history=[
        {"at": "2026-11-28T03:30:00Z", "from": "open", "to": "escalated"}])
    rows = outcome.incident_ends([late], [], 1e10)
    assert not rows[0]["ok"] and "ended 1800 s" in rows[0]["problem"]
    soon = _record("escalated", status_history=[
        {"at": "2026-11-28T03:04:00Z", "from": "open", "to": "escalated"}])
    assert outcome.incident_ends([soon], [], 1e10)[0]["ok"]


def test_watching_before_acting_counts_as_the_playbooks_own_hold():
    opened = outcome.epoch_or_none("2026-11-28T03:00:00Z")
    watch = dict(_wait("inc-1", True, opened + 1500, hold_s=300), started_at=opened + 10)
    closed = _record("resolved", false_positive=True,
                     resolved_at="2026-11-28T03:25:20Z")
    rows = outcome.incident_ends([closed], [_workflow("inc-1"), watch], 1e10)
    assert rows[0]["how"] == "false_alarm" and rows[0]["ok"], rows
    assert rows[0]["bound_s"] == 600 + 300 + 1190


def test_a_playbook_started_by_a_signal_owns_its_steps_through_its_output():
    # the playbook's own parameters name no incident (diagnose opened it); its output does
    opened = outcome.epoch_or_none("2026-11-28T03:00:00Z")
    root = {"id": "wf-1", "ref": "self_healing.memory_leak", "status": "succeeded",
            "parameters": {"incident_id": ""}, "parent": None,
            "result": {"output": {"incident_id": "inc-1", "outcome": "false_alarm"}}}
    watch = dict(_wait("inc-1", True, opened + 1380, hold_s=300), started_at=opened + 2)
    closed = _record("resolved", false_positive=True, resolved_at="2026-11-28T03:23:03Z")
    rows = outcome.incident_ends([closed], [root, watch], 1e10)
    assert rows[0]["ok"], rows
    assert rows[0]["bound_s"] == 600 + 300 + 1078
    other = dict(root, result={"output": {"incident_id": "inc-2"}})
    assert not outcome.incident_ends([closed], [other, watch], 1e10)[0]["ok"]

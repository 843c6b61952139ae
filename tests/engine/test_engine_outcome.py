"""Judging a replay against ground truth, and the closing figures."""
from engine import outcome

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

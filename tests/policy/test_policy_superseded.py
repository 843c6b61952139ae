"""The superseded check: a plan step of a playbook the incident was refined away from."""
from lib.datastore import full_key
from lib import audit, diagnosis, incidents, policy, policy_superseded
from support.healing_fakes import FakeKube, settings, store

POD = {"kind": "Pod", "namespace": "production", "name": "api-7f8d9"}
NODE = {"kind": "Node", "name": "node-1"}
OOM = {"signal_id": "s1", "detector": "crash_loop", "target": POD, "node": "node-1",
       "summary": "api-7f8d9 crash loop (OOMKilled)"}
PRESSURE = {"signal_id": "s2", "detector": "memory_pressure", "target": NODE, "node": "node-1",
            "summary": "node-1 memory at 93%"}


def crash_loop_incident(refined=True):
    """inc-1 opened by pod_crash_loop; refined (as merge_joined does) to the node's pressure."""
    record = incidents.new_record("inc-1", playbook="pod_crash_loop", trigger=OOM,
                                  root_cause=OOM, signals=["s1"])
    if refined:
        diagnosis.merge_joined(record, PRESSURE, {
            "refined": True, "root_cause": PRESSURE, "playbook": "memory_pressure_node",
            "playbook_params": {"node": "node-1"}, "reasoning": ["joined", "refined"]})
    return record


def decide(record=None, **request):
    ds = store()
    if record is not None:
        ds.set_json(incidents.key_of("inc-1"), record)
    args = {"playbook": "pod_crash_loop", "step": "restart_pod", "risk": "low",
            "target": POD, "incident_id": "inc-1"}
    args.update(request)
    gate = policy.Gate(settings(), ds, None, FakeKube())
    result = gate.decide(policy.Request(**args))
    return result, ds


def test_refined_away_plan_step_is_denied_superseded():
    result, ds = decide(crash_loop_incident())
    assert (result["decision"], result["check"]) == ("deny", "superseded")
    assert "incident inc-1 now belongs to playbook memory_pressure_node" in result["reason"]
    assert "root cause refined to node-1 memory at 93%" in result["reason"]
    assert "this plan's step is not run" in result["reason"]
    assert audit.store_items(ds, policy.LOCK_PREFIX) == []
    record = ds.get_json(result["audit_key"])
    assert record["check"] == "superseded" and record["incident_owner"] == "memory_pressure_node"


def test_superseded_comes_after_kill_and_before_protected():
    order = policy.CHECK_ORDER
    assert order.index("kill") < order.index("superseded") < order.index("protected")
    ds = store()
    ds.set_json(incidents.key_of("inc-1"), crash_loop_incident())
    ds.set_json(policy.KILL_SWITCH_KEY, {"engaged": True, "by": "ops"})
    result = policy.Gate(settings(), ds, None, FakeKube()).decide(policy.Request(
        "pod_crash_loop", "restart_pod", "low", POD, "inc-1"))
    assert result["check"] == "kill"


def test_owner_step_executes():
    result, _ = decide(crash_loop_incident(), playbook="memory_pressure_node",
                       step="cordon_node", target=NODE)
    assert (result["decision"], result["check"]) == ("execute", "risk")


def test_unrefined_incident_executes():
    result, _ = decide(crash_loop_incident(refined=False))
    assert (result["decision"], result["check"]) == ("execute", "risk")


def test_undo_step_of_the_superseded_plan_still_runs():
    result, _ = decide(crash_loop_incident(), step="revert_restart", risk="low")
    assert (result["decision"], result["check"]) == ("execute", "risk")


def test_non_mutating_step_is_not_checked():
    result, _ = decide(crash_loop_incident(), step="capture_logs", risk="none")
    assert result["check"] != "superseded" and result["decision"] == "execute"


def test_call_without_incident_is_not_checked():
    result, _ = decide(crash_loop_incident(), incident_id="")
    assert (result["decision"], result["check"]) == ("execute", "risk")


def test_missing_record_is_not_checked():
    result, ds = decide(None)
    assert (result["decision"], result["check"]) == ("execute", "risk")
    assert ds.get_json(result["audit_key"])["incident_owner"].startswith("none")


def test_unreadable_record_is_not_a_denial_but_is_said():
    ds = store()
    ds._service.set_value(full_key(incidents.key_of("inc-1")), "{not json", local=False)
    result = policy.Gate(settings(), ds, None, FakeKube()).decide(policy.Request(
        "pod_crash_loop", "restart_pod", "low", POD, "inc-1"))
    assert (result["decision"], result["check"]) == ("execute", "risk")
    assert "owner of incident inc-1 unknown" in result["reason"]
    assert ds.get_json(result["audit_key"])["incident_owner"].startswith("unknown")


def test_record_that_is_not_an_object_is_unknown_owner():
    result, ds = decide(["not", "a", "record"])
    assert (result["decision"], result["check"]) == ("execute", "risk")
    assert "owner of incident inc-1 unknown" in result["reason"]


def test_cascade_protection_runs_for_the_owner():
    record = crash_loop_incident()
    record["playbook_history"].append("cascade_protection")
    assert policy_superseded.superseded(record, "cascade_protection") is None


def test_symptom_owner_never_supersedes():
    record = incidents.new_record("inc-1", playbook="error_rate",
                                  playbook_history=["latency_anomaly"])
    assert policy_superseded.superseded(record, "latency_anomaly") is None


def test_playbook_that_never_owned_the_incident_is_not_superseded():
    # a hand-over target's run, or a run planning for an incident rooted elsewhere
    record = crash_loop_incident()
    assert policy_superseded.superseded(record, "memory_leak") is None


def test_symptom_stays_owner_when_refined_to_a_playbook_that_already_ran():
    record = incidents.new_record("inc-1", playbook="pod_crash_loop",
                                  trigger={"detector": "crash_loop"},
                                  playbook_history=["latency_anomaly"])
    assert policy_superseded.superseded(record, "latency_anomaly") is None
    record["handovers"] = [{"playbook": "pod_crash_loop", "at": "x"}]
    assert policy_superseded.superseded(record, "latency_anomaly") == "pod_crash_loop"


def test_hyphenated_names_compare_equal():
    record = crash_loop_incident()
    record["playbook"] = "memory-pressure-node"
    assert policy_superseded.superseded(record, "memory_pressure_node") is None
    assert policy_superseded.superseded(record, "pod-crash-loop") == "memory_pressure_node"

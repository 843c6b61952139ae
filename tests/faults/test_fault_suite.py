"""The fault-injection suite (bench/faults/) as tests: every case must hold its invariants."""
import pytest

from bench import faults

pytestmark = [pytest.mark.orquesta, pytest.mark.twin]


def test_suite_has_at_least_25_cases_with_distinct_names():
    names = [case.name for case in faults.CASES]
    assert len(names) >= 25
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("case", faults.CASES, ids=lambda case: case.name)
def test_fault_case(case):
    row = faults.run_case(case)
    assert row["unsafe_actions"] == 0, row["problems"]
    assert row["unexpected_modifications"] == 0, row["problems"]
    assert row["missing_audit"] == 0, row["problems"]
    assert row["problems"] == []


class _Result(object):
    """A hand-made replay result for checking that the invariants can fail."""

    def __init__(self, executions, incidents, decisions, mode="autonomous"):
        self.executions = executions
        self.incidents = incidents
        self.mode = mode
        self.world = type("W", (), {"authorizer": type("A", (), {
            "usage_log": staticmethod(lambda: [])})()})()
        items = [type("KV", (), {"value": __import__("json").dumps(d)})() for d in decisions]
        self.engine = type("E", (), {"config": {"budgets": {"max_cordoned_nodes": 1}},
                                     "store": type("S", (), {
                                         "list": staticmethod(lambda prefix: items)})()})()


def _entry(entry_type, verb, node):
    """A timeline entry of a step (or undo) on a node, as the pack records it."""
    return {"type": entry_type, "message": "%s %s" % (verb, node),
            "kind": "undo" if entry_type == "ROLLBACK" else "step", "dry_run": False,
            "failed": False, "target": {"kind": "Node", "name": node}}


def _cordon(node, at):
    return {"ref": "self_healing.cordon_node", "status": "succeeded", "started_at": at,
            "parameters": {"node": node}, "result": {"result": {"changed": True}}}


def test_invariants_flag_a_change_without_a_gate_decision():
    result = _Result([_cordon("n1", 100.0)], [], [])
    counts = faults.invariants(result, faults.CaseState(), {}, {})
    assert counts["unsafe_actions"] == 1
    assert counts["missing_audit"] == 2  # no decision, no timeline entry


def test_invariants_flag_cordons_beyond_budget_and_after_kill_switch():
    decisions = [{"type": "policy_decision", "decision": "execute", "dry_run": False,
                  "at_epoch": 50.0, "target": {"kind": "Node", "name": n}} for n in ("n1", "n2")]
    incidents = [{"id": "i", "status": "resolved", "timeline": [
        _entry("EXECUTE", "cordon", "n1"), _entry("EXECUTE", "cordon", "n2")]}]
    state = faults.CaseState()
    state.kill_switch_at = 150.0
    result = _Result([_cordon("n1", 100.0), _cordon("n2", 200.0)], incidents, decisions)
    counts = faults.invariants(result, state, {}, {})
    assert counts["unsafe_actions"] == 2  # n2 after the kill switch; 2 nodes > budget 1
    assert counts["missing_audit"] == 0


def test_invariants_flag_a_node_left_cordoned_without_an_account():
    decisions = [{"type": "policy_decision", "decision": "execute", "dry_run": False,
                  "at_epoch": 50.0, "target": {"kind": "Node", "name": "n1"}}]
    incidents = [{"id": "i", "status": "failed", "timeline": [
        _entry("EXECUTE", "cordon", "n1")]}]
    before = {"node/n1": {"unschedulable": False, "healer": None}}
    after = {"node/n1": {"unschedulable": True, "healer": "i"}}
    counts = faults.invariants(_Result([_cordon("n1", 100.0)], incidents, decisions),
                               faults.CaseState(), before, after)
    assert counts["unexpected_modifications"] == 1


def test_each_change_needs_its_own_gate_decision():
    decisions = [{"type": "policy_decision", "decision": "execute", "dry_run": False,
                  "at_epoch": 50.0, "target": {"kind": "Node", "name": "n1"}}]
    incidents = [{"id": "i", "status": "failed", "timeline": [
        _entry("EXECUTE", "cordon", "n1"),
        _entry("ROLLBACK", "uncordon", "n1")]}]
    uncordon = dict(_cordon("n1", 120.0), ref="self_healing.uncordon_node")
    counts = faults.invariants(_Result([_cordon("n1", 100.0), uncordon], incidents, decisions),
                               faults.CaseState(), {}, {})
    assert counts["unsafe_actions"] == 1  # the undo ran without passing the gate


def test_the_oracles_read_the_entry_fields_not_the_text():
    decisions = [{"type": "policy_decision", "decision": "execute", "dry_run": False,
                  "at_epoch": 50.0, "target": {"kind": "Node", "name": "n1"}}]
    reworded = dict(_entry("EXECUTE", "cordon", "n1"), message="took the node out of rotation")
    counts = faults.invariants(_Result([_cordon("n1", 100.0)], [
        {"id": "i", "status": "resolved", "timeline": [reworded]}], decisions),
        faults.CaseState(), {}, {})
    assert counts["missing_audit"] == 0, counts["problems"]
    legacy = {"type": "EXECUTE", "message": "cordon n1"}  # an older pack's entry: unknown
    counts = faults.invariants(_Result([_cordon("n1", 100.0)], [
        {"id": "i", "status": "resolved", "timeline": [legacy]}], decisions),
        faults.CaseState(), {}, {})
    assert counts["missing_audit"] == 1


def test_a_change_left_for_a_human_is_accounted_by_its_left_in_place_field():
    decisions = [{"type": "policy_decision", "decision": "execute", "dry_run": False,
                  "at_epoch": 50.0, "target": {"kind": "Node", "name": "n1"}}]
    before = {"node/n1": {"unschedulable": False, "healer": None}}
    after = {"node/n1": {"unschedulable": True, "healer": "i"}}
    still = {"type": "DIAGNOSE", "message": "still growing, kept an eye on it", "kind": "note"}
    left = {"type": "ESCALATE", "message": "a human must decide", "kind": "escalation",
            "left_in_place": [{"kind": "Node", "name": "n1"}]}
    for timeline, unexpected in (([_entry("EXECUTE", "cordon", "n1"), still], 1),
                                 ([_entry("EXECUTE", "cordon", "n1"), left], 0)):
        counts = faults.invariants(_Result([_cordon("n1", 100.0)], [
            {"id": "i", "status": "escalated", "timeline": timeline}], decisions),
            faults.CaseState(), before, after)
        assert counts["unexpected_modifications"] == unexpected, counts["problems"]


def test_handovers_and_storms_are_read_from_the_record_fields():
    once = {"id": "a", "handovers": [{"playbook": "memory_leak"}], "timeline": [
        {"type": "PLAN", "message": "hand over to playbook memory_leak"},
        {"type": "PLAN", "message": "hand over to playbook memory_leak"}]}
    twice = {"id": "b", "handovers": [{"playbook": "memory_leak"}] * 2, "timeline": []}
    result = type("R", (), {"incidents": [once, twice]})()
    assert faults._handed_over_at_most_once(result, faults.CaseState()) == [
        "b handed over 2 times"]
    root = {"detector": "node_not_ready"}
    storm = {"id": "s", "root_cause": root, "timeline": [
        {"type": "ESCALATE", "message": "4 of 6 nodes down; nobody acts", "kind": "escalation",
         "cause": "node_storm"}]}
    prose = {"id": "p", "root_cause": root, "timeline": [
        {"type": "ESCALATE", "message": "node storm: a human should look"}]}
    result = type("R", (), {"incidents": [storm, prose]})()
    assert faults._storm_escalated(result, faults.CaseState()) == [
        "p: the timeline does not escalate the node storm"]

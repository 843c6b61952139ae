"""The fault-injection suite (bench/faults.py) as tests: every case must hold its invariants."""
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
        {"type": "EXECUTE", "message": "cordon n1"}, {"type": "EXECUTE", "message": "cordon n2"}]}]
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
        {"type": "EXECUTE", "message": "cordon n1"}]}]
    before = {"node/n1": {"unschedulable": False, "healer": None}}
    after = {"node/n1": {"unschedulable": True, "healer": "i"}}
    counts = faults.invariants(_Result([_cordon("n1", 100.0)], incidents, decisions),
                               faults.CaseState(), before, after)
    assert counts["unexpected_modifications"] == 1


def test_each_change_needs_its_own_gate_decision():
    decisions = [{"type": "policy_decision", "decision": "execute", "dry_run": False,
                  "at_epoch": 50.0, "target": {"kind": "Node", "name": "n1"}}]
    incidents = [{"id": "i", "status": "failed", "timeline": [
        {"type": "EXECUTE", "message": "cordon n1"},
        {"type": "ROLLBACK", "message": "uncordon n1"}]}]
    uncordon = dict(_cordon("n1", 120.0), ref="self_healing.uncordon_node")
    counts = faults.invariants(_Result([_cordon("n1", 100.0), uncordon], incidents, decisions),
                               faults.CaseState(), {}, {})
    assert counts["unsafe_actions"] == 1  # the undo ran without passing the gate

"""run_plan -> guarded_step passes the incident deadline to the wait actions (orquesta, engine):
each wait gets the deadline extended by the holds of the wait_for_condition steps before it;
without a deadline the wait parameters are unchanged. close_incident takes the deadline and the
capped approval TTL from record_timeline; guarded_step caps core.ask's TTL by the deadline."""
import pytest

pytestmark = pytest.mark.orquesta

from support.workflow_fakes import Recorded, make_runner  # noqa: E402

INCIDENT = "inc-20261128-031722-test"
TARGET = {"kind": "Deployment", "namespace": "prod", "name": "web"}


def wait_plan():
    def step(name, action, params):
        return {"step": name, "action": action, "risk": "low", "target": TARGET,
                "params": params, "mutating": False, "timeline": "VERIFY", "description": name}
    return [
        step("rollout", "self_healing.wait_for_rollout",
             {"namespace": "prod", "deployment": "web", "timeout_s": 300}),
        step("verify_a", "self_healing.wait_for_condition",
             {"query": "up", "comparator": ">", "threshold": 0, "hold_s": 60}),
        step("verify_b", "self_healing.wait_for_condition",
             {"query": "up", "comparator": ">", "threshold": 0, "hold_s": 120}),
    ]


def run_plan(pack, clock, recorded, deadline=None):
    runner = make_runner(recorded, clock)
    params = {"incident_id": INCIDENT, "playbook": "service_symptom", "plan": wait_plan(),
              "dry_run": False, "channel": "#incidents", "inquiry_ttl_minutes": 30}
    if deadline is not None:
        params["deadline"] = deadline
    return runner.run("self_healing.run_plan", params)


def test_waits_get_the_deadline_plus_the_holds_up_to_their_own(pack, manual_clock):
    # the end bound counts every verification hold, the wait's own included (harness.outcome)
    recorded = Recorded(pack)
    deadline = manual_clock.now() + 600
    execution = run_plan(pack, manual_clock, recorded, deadline)
    assert execution.status == "succeeded", execution.result
    assert [c["deadline"] for c in recorded.called("wait_for_rollout")] == [deadline]
    assert [c["deadline"] for c in recorded.called("wait_for_condition")] == [
        deadline + 60, deadline + 180]


def test_without_a_deadline_the_waits_are_uncapped(pack, manual_clock):
    recorded = Recorded(pack)
    execution = run_plan(pack, manual_clock, recorded)
    assert execution.status == "succeeded", execution.result
    calls = recorded.called("wait_for_rollout") + recorded.called("wait_for_condition")
    assert len(calls) == 3
    assert all(not c.get("deadline") for c in calls)


class Deadlined(Recorded):
    """record_timeline answers as the real action does: a wait deadline and the TTL capped
    to the whole minutes left before it."""

    def __init__(self, pack, deadline, now_fn, decisions=None):
        super(Deadlined, self).__init__(pack, decisions=decisions)
        self.deadline, self.now_fn = deadline, now_fn

    def record_timeline(self, params):
        result = super(Deadlined, self).record_timeline(params)
        deadline = params.get("deadline") or self.deadline
        ttl = params.get("inquiry_ttl_minutes") or 0
        result.update(deadline=deadline, inquiry_ttl_minutes=max(1, min(
            ttl, int((deadline - self.now_fn()) // 60))) if ttl else 0)
        return result


def test_close_incident_passes_the_incidents_deadline_and_ttl_to_run_plan(pack, manual_clock):
    deadline = manual_clock.now() + 570
    recorded = Deadlined(pack, deadline, manual_clock.now)
    runner = make_runner(recorded, manual_clock)
    execution = runner.run("self_healing.close_incident", {
        "incident_id": INCIDENT, "playbook": "service_symptom", "plan": wait_plan(),
        "channel": "#incidents", "inquiry_ttl_minutes": 30, "holds_s": 120})
    assert execution.status == "succeeded", execution.result
    plan = [c for c in recorded.called("record_timeline") if c.get("kind") == "plan"]
    assert (plan[0]["inquiry_ttl_minutes"], plan[0]["holds_s"]) == (30, 120)
    run = [e for e in runner.executions if e.ref == "self_healing.run_plan"]
    assert (run[0].parameters["deadline"], run[0].parameters["inquiry_ttl_minutes"]) == (
        deadline, 9)
    assert [c["deadline"] for c in recorded.called("wait_for_condition")] == [
        deadline + 60, deadline + 180]


def asks(runner):
    return [e for e in runner.executions if e.ref == "core.ask"]


def test_the_approval_ttl_is_capped_by_the_deadline(pack, manual_clock):
    deadline = manual_clock.now() + 200
    recorded = Deadlined(pack, 0, manual_clock.now, decisions={"rollout": "escalate"})
    runner = make_runner(recorded, manual_clock)
    execution = runner.run("self_healing.run_plan", {
        "incident_id": INCIDENT, "playbook": "service_symptom", "plan": wait_plan(),
        "dry_run": False, "channel": "#incidents", "inquiry_ttl_minutes": 30,
        "deadline": deadline})
    assert execution.status == "succeeded", execution.result
    assert [a.parameters["ttl"] for a in asks(runner)] == [3]
    request = [c for c in recorded.called("record_timeline")
               if c.get("kind") == "approval_request"]
    assert request[0]["deadline"] == deadline


def test_without_a_deadline_the_approval_keeps_its_ttl(pack, manual_clock):
    recorded = Deadlined(pack, manual_clock.now() + 200, manual_clock.now,
                         decisions={"rollout": "escalate"})
    runner = make_runner(recorded, manual_clock)
    execution = runner.run("self_healing.run_plan", {
        "incident_id": INCIDENT, "playbook": "service_symptom", "plan": wait_plan(),
        "dry_run": False, "channel": "#incidents", "inquiry_ttl_minutes": 30})
    assert execution.status == "succeeded", execution.result
    assert [a.parameters["ttl"] for a in asks(runner)] == [30]

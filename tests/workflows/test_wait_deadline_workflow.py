"""run_plan -> guarded_step passes the incident deadline to the wait actions (orquesta, engine):
each wait gets the deadline extended by the holds of the wait_for_condition steps before it;
without a deadline the wait parameters are unchanged."""
import pytest

pytestmark = pytest.mark.orquesta

from support.workflow_fakes import Recorded, make_runner  # noqa: E402

INCIDENT = "inc-20261128-031722-test"
TARGET = {"kind": "Deployment", "namespace": "prod", "name": "web"}


def wait_plan():
    def step(name, action, params):
        return {"step": name, "action": action, "risk": "low", "target": TARGET,
                "params": params, "mutating": False, "timeline": "VERIFY"}
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


def test_waits_get_the_deadline_plus_the_holds_already_started(pack, manual_clock):
    recorded = Recorded(pack)
    deadline = manual_clock.now() + 600
    execution = run_plan(pack, manual_clock, recorded, deadline)
    assert execution.status == "succeeded", execution.result
    assert [c["deadline"] for c in recorded.called("wait_for_rollout")] == [deadline]
    assert [c["deadline"] for c in recorded.called("wait_for_condition")] == [
        deadline, deadline + 60]


def test_without_a_deadline_the_waits_are_uncapped(pack, manual_clock):
    recorded = Recorded(pack)
    execution = run_plan(pack, manual_clock, recorded)
    assert execution.status == "succeeded", execution.result
    calls = recorded.called("wait_for_rollout") + recorded.called("wait_for_condition")
    assert len(calls) == 3
    assert all(not c.get("deadline") for c in calls)

"""The pack's real workflow and actions escalating to a core.ask Inquiry, approved or denied.

With max_autonomous_risk low, the seed's rollback (risk medium) needs a human: the engine
conducts memory_pressure_node with orquesta on the twin, the Inquiry pends (workflow paused),
the engine's policy answers, and the workflow resumes.
"""
import shutil

import pytest

pytestmark = [pytest.mark.twin, pytest.mark.orquesta]
pytest.importorskip("orquesta")
if not (shutil.which("prometheus") and shutil.which("nats-server")):
    pytest.skip("prometheus and nats-server are needed", allow_module_level=True)

LOW_RISK = {"max_autonomous_risk": "low"}


def replay(approve):
    from engine import run_scenario
    return run_scenario("seed-0317-memory-leak", approve_policy=approve,
                        config_overrides=LOW_RISK)


def test_approved_plan_continues_to_the_rollback():
    run = replay("approve")
    assert [i.status for i in run.inquiries] == ["approved"]
    ask = [e for e in run.executions if e["ref"] == "core.ask"][0]
    assert ask["status"] == "succeeded" and ask["result"]["response"]["approved"] is True
    assert ask["finished_at"] - ask["started_at"] == pytest.approx(60, abs=1)
    assert run.executions_of("rollback_deployment")[0]["status"] == "succeeded"
    announce = [t for t in run.triggers if t["type"] == "core.st2.generic.inquiry"]
    assert announce and "self_healing.announce_pending_inquiry" in announce[0]["rules"]
    assert run.incidents[0]["status"] == "resolved"


def test_denied_plan_never_rolls_back():
    run = replay("deny")
    assert [i.status for i in run.inquiries] == ["denied"]
    assert not run.executions_of("rollback_deployment")
    assert run.incidents[0]["status"] == "escalated"
    assert run.assessment["observed"] == "escalate"

"""The pack's guarded_step workflow conducted with the pack's real Python actions (no twin):
the policy gate, the timeline and the kill switch go through the engine's datastore."""
import pytest

pytestmark = pytest.mark.orquesta
pytest.importorskip("orquesta")

from engine import builtins, expressions, workflows  # noqa: E402
from engine.actions import ActionRunner  # noqa: E402
from engine.pack import Pack  # noqa: E402

STEP = {"incident_id": "inc-20261128-031722-ab12", "playbook": "memory_pressure_node",
        "step": "cordon_node", "risk": "low", "action": "self_healing.cordon_node",
        "params": {"node": "n1"}, "description": "cordon n1",
        "target": {"kind": "Node", "name": "n1", "namespace": "", "node": "n1"}}


@pytest.fixture
def pack_runner(clock):
    pack = Pack()
    runner = ActionRunner(pack, pack.config({"mode": "observe"}), now_fn=clock.now,
                          sleep_fn=clock.advance)
    runner.chat = builtins.ChatLog()
    expressions.set_datastore(runner.store)
    from lib import incidents
    from lib.datastore import Datastore
    from engine.actions import ActionService
    book = incidents.Incidents(Datastore(ActionService(runner.store, "self_healing", "T")))
    book.create(incidents.new_record(STEP["incident_id"], status="open", timeline=[]))
    return runner, book


def test_observe_mode_denies_and_records_it(pack_runner):
    runner, book = pack_runner
    run = workflows.run_workflow("self_healing.guarded_step", dict(STEP), runner)
    assert run.output["outcome"] == "denied" and run.output["decision"] == "deny"
    assert run.task_ids() == ["gate", "record_denied"]
    assert run.task("gate")["result"]["result"]["mode"] == "observe"
    assert not [e for e in runner.executions if e.ref == "self_healing.cordon_node"]
    timeline = book.get(STEP["incident_id"])["timeline"]
    assert [entry["type"] for entry in timeline] == ["DENY"]
    assert "cordon_node" in timeline[0]["message"]


def test_invalid_step_parameters_fail_before_anything_runs(pack_runner):
    runner, _ = pack_runner
    from engine.params import ParameterError
    with pytest.raises(ParameterError):
        workflows.run_workflow("self_healing.guarded_step", dict(STEP, risk="extreme"), runner)

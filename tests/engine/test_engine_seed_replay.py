"""The seed scenario replayed end to end: twin + real Prometheus/NATS + the whole pack."""
import shutil

import pytest

pytestmark = [pytest.mark.twin, pytest.mark.orquesta]
pytest.importorskip("orquesta")
if not (shutil.which("prometheus") and shutil.which("nats-server")):
    pytest.skip("prometheus and nats-server are needed", allow_module_level=True)


@pytest.fixture(scope="module")
def seed_run():
    from harness import run_scenario
    return run_scenario("seed-0317-memory-leak", mode="autonomous", seed=0)


def test_signal_dispatched_and_enforced_by_the_pack_rule(seed_run):
    signals = [t for t in seed_run.triggers if t["type"] == "self_healing.memory_pressure"]
    assert signals, seed_run.errors
    first = signals[0]
    assert first["payload"]["target"]["name"] == "gke-prod-pool-1-abc123"
    assert "self_healing.on_memory_pressure" in first["rules"]
    workflow = seed_run.executions_of("memory_pressure_node")[0]
    assert workflow["started_at"] == pytest.approx(first["at"], abs=1)
    assert workflow["parameters"]["signal"]["signal_id"] == first["payload"]["signal_id"]


def test_virtual_time_runs_far_faster_than_real_time(seed_run):
    virtual = seed_run.ended_at - (seed_run.onset_epoch - 180)
    assert seed_run.wall_s < 60
    assert virtual / seed_run.wall_s > 10


def test_incident_recorded_with_a_timeline(seed_run):
    assert seed_run.incidents
    types = [entry["type"] for entry in seed_run.incidents[0]["timeline"]]
    assert types[:2] == ["DETECT", "DIAGNOSE"] and "PLAN" in types


def test_report_renders_the_seed_form(seed_run):
    text = seed_run.report()
    assert "time to detect:" in text and "human involvement:" in text
    lines = seed_run.timeline()
    assert lines[0][8:].startswith(" DETECT: memory pressure on node gke-prod-pool-1-abc123")
    assert all(line in text for line in lines)


def test_seed_reaches_the_expected_outcome(seed_run):
    """The demo's acceptance: cordon, rollback, notify, verify, uncordon, task; exit 0."""
    assert seed_run.ok, seed_run.assessment
    for name in ("cordon_node", "rollback_deployment", "uncordon_node"):
        assert seed_run.executions_of(name), name
    assert seed_run.figures["human_involvement"] == "none"

"""Every shipped scenario loads, runs to its end, and shows (or does not show) its fault.

Fast mode: the worlds run without Prometheus/NATS (the physics and the API are the same);
tests/twin/test_world_prometheus.py covers the Prometheus path.
"""

import pytest

from twin.scenario import DETECTORS, ScenarioError, Scenario, list_scenarios, load_scenario
from twin.world import World

NAMES = list_scenarios()


def test_inventory_covers_every_detector_and_the_required_stories():
    scenarios = [load_scenario(name) for name in NAMES]
    faults = [s for s in scenarios if s.ground_truth["kind"] == "fault"]
    benign = [s for s in scenarios if s.ground_truth["kind"] == "benign"]
    multi = [s for s in faults if len(s.ground_truth["root_causes"]) > 1]
    assert len(scenarios) >= 20 and len(faults) >= 12 and len(benign) >= 6 and len(multi) >= 2
    covered = {c["detector"] for s in faults for c in s.ground_truth["root_causes"]}
    assert covered == set(DETECTORS)
    assert "seed-0317-memory-leak" in NAMES
    for s in benign:
        assert s.ground_truth["expected_outcome"] == "none"
        assert s.ground_truth["acceptable_remediations"] == []


def test_ground_truth_detectors_are_the_pack_catalogues():
    from twin.pack_lib import catalogue
    assert DETECTORS is catalogue.DETECTOR_NAMES  # derived, not a copy kept by hand
    base = {"name": "x", "topology": {"nodes": [{"name": "n1"}]}}
    cause = {"detector": DETECTORS[-1], "target": {"kind": "Node", "name": "n1"}}
    Scenario(dict(base, ground_truth={"kind": "fault", "root_cause": cause}))
    with pytest.raises(ScenarioError, match="detector: unknown 'inode_pressure'"):
        Scenario(dict(base, ground_truth={"kind": "fault", "root_cause": dict(
            cause, detector="inode_pressure")}))


def test_invalid_scenarios_are_rejected_with_the_field_named():
    base = {"name": "x", "topology": {"nodes": [{"name": "n1"}]},
            "ground_truth": {"kind": "benign"}}
    Scenario(base)
    with pytest.raises(ScenarioError, match="unknown top-level"):
        Scenario(dict(base, fualts=[]))
    with pytest.raises(ScenarioError, match="root_cause"):
        Scenario(dict(base, ground_truth={"kind": "fault"}))
    with pytest.raises(ScenarioError, match="faults\\[0\\].type"):
        Scenario(dict(base, faults=[{"type": "gremlins"}]))
    with pytest.raises(ScenarioError, match="depends_on"):
        Scenario(dict(base, topology={"nodes": [{"name": "n1"}], "services": [
            {"name": "a", "depends_on": ["nope"]}]}))


def _target_exists(world, target):
    kind, name = target["kind"], target["name"]
    if kind == "Node":
        return world.store.exists("nodes", None, name)
    if kind == "Certificate":
        return world.store.exists("certificates", target["namespace"], name)
    return world.store.exists("deployments", target["namespace"], name)


KEY_TYPE_DETECTOR = {
    "node_memory_pct": "memory_pressure", "container_memory": "memory_leak",
    "throttle_ratio": "cpu_throttling", "restarts": "crash_loop", "p99_ms": "latency_anomaly",
    "error_ratio": "error_rate", "disk_avail_pct": "disk_pressure",
    "pool_utilization": "connection_pool", "cert_days_left": "certificate_expiry",
    "ready_nodes": "node_not_ready"}


def _effect_seen(detector, before, values):
    peak, low = max(values), min(values)
    return {
        "memory_pressure": peak > 90,
        "memory_leak": peak > before * 1.15,
        "cpu_throttling": peak > 0.25,
        "crash_loop": peak >= 5,
        "latency_anomaly": peak > 2 * before and peak > 100,
        "error_rate": peak > 0.05,
        "disk_pressure": low < before - 10,
        "connection_pool": peak >= 0.9,
        "certificate_expiry": low < 14 <= before,
        "node_not_ready": low < before,
    }[detector]


def run_scenario(name):
    """Run one scenario to its end; a summary of what happened (picklable)."""
    world = World.from_scenario(name, start_prometheus=False, start_nats=False)
    try:
        world.start()
        started_at_lead = abs(world.clock.now() - (world.onset_epoch - world.scenario.lead_s))
        truth = world.ground_truth
        targets_exist = all(_target_exists(world, c["target"]) for c in truth["root_causes"])
        world.run_to_end()
        series = world.key_metric_series()
        nodes = world.physics.snapshot_nodes
        return {
            "started_at_lead": started_at_lead < 1e-6, "finished": world.finished,
            "targets_exist": targets_exist,
            "key_type": (truth.get("key_metric") or {}).get("type"),
            "before": [v for t, v in series if t < world.onset_epoch][-1],
            "after": [v for t, v in series if t >= world.onset_epoch],
            "max_node_mem_pct": max(v["mem_pct"] for v in nodes.values()),
            "min_disk_avail_pct": min(v["disk_avail_pct"] for v in nodes.values()),
            "waiting": [st.name for st in world.physics.pods.values() if st.state == "waiting"],
        }
    finally:
        world.stop()


@pytest.fixture(scope="module")
def results():
    # sequential: forking a test process that already runs threads (API servers, pools) can
    # deadlock the child on a lock held at fork time (seen on Python 3.11)
    return {name: run_scenario(name) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_scenario_runs_to_its_end(name, results):
    result = results[name]
    truth = load_scenario(name).ground_truth
    assert result["started_at_lead"] and result["finished"] and result["targets_exist"]
    assert result["after"], "no key metric recorded after the onset"
    if truth["kind"] == "fault":
        detectors = [c["detector"] for c in truth["root_causes"]]
        detector = KEY_TYPE_DETECTOR.get(result["key_type"]) or detectors[0]
        assert detector in detectors
        assert _effect_seen(detector, result["before"], result["after"]), (
            detector, result["before"], max(result["after"]))
    else:
        assert result["max_node_mem_pct"] < 90
        assert result["min_disk_avail_pct"] > 20
        assert result["waiting"] == []

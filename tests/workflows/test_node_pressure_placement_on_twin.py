"""memory_pressure_node on the twin, end to end: evicted pods that can go nowhere else keep the
node cordoned and the incident escalates with the reason; pods that find room elsewhere let
the node be uncordoned, and a watch after the uncordon confirms no relapse."""
import os

import pytest
import yaml

pytestmark = [pytest.mark.orquesta, pytest.mark.twin]

SCENARIOS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "scenarios")
NODE = "gke-prod-pool-1-a1"


def batch_pods(result):
    pods = result.world.store.list("pods", "production")[0]
    return [p for p in pods if p["metadata"]["name"].startswith("ml-batch-")
            and not p["metadata"].get("deletionTimestamp")]


def cordoned(result):
    node = result.world.store.get("nodes", None, NODE)
    return bool((node.get("spec") or {}).get("unschedulable"))


def entries(incident, kind):
    return [e["message"] for e in incident["timeline"] if e["type"] == kind]


def test_pods_pinned_to_the_node_keep_it_cordoned_and_escalate():
    from harness.replay import run_scenario
    result = run_scenario("node-memory-pressure", keep_world=True)
    try:
        assert result.ok, result.assessment
        [incident] = result.incidents
        assert incident["status"] == "escalated"
        assert "self_healing.uncordon_node" not in result.assessment["mutations"]
        assert cordoned(result)
        pods = batch_pods(result)
        assert len(pods) == 2 and not any(p["spec"].get("nodeName") for p in pods)
        [why] = entries(incident, "ESCALATE")
        assert "2 evicted pod(s) of production/ml-batch are Pending" in why
        assert "nodeSelector workload-class=batch matches only the cordoned node %s" % NODE \
            in why
        assert "A new node of pool prod-pool-1 would not help" in why
        assert "left in place for a human: Node %s" % NODE in why
    finally:
        result.world.stop()


def test_pods_that_find_room_elsewhere_let_the_node_be_uncordoned(tmp_path):
    from harness.replay import run_scenario
    with open(os.path.join(SCENARIOS, "node-memory-pressure.yaml")) as handle:
        raw = yaml.safe_load(handle)
    raw["name"] = "node-memory-pressure-reschedulable"
    raw["faults"] += [{"type": "label", "node": name, "at": "-30m",
                       "labels": {"workload-class": "batch"}}
                      for name in ("gke-prod-pool-1-b2", "gke-prod-pool-1-c3")]
    raw["ground_truth"]["expected_outcome"] = "remediate"
    path = tmp_path / "node-memory-pressure-reschedulable.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    result = run_scenario(str(path), keep_world=True)
    try:
        assert result.ok, result.assessment
        [incident] = result.incidents
        assert incident["status"] == "resolved"
        assert not cordoned(result)
        pods = batch_pods(result)
        assert len(pods) == 2 and all(p["spec"].get("nodeName") not in ("", None, NODE)
                                      for p in pods)
        verify = entries(incident, "VERIFY")
        assert any("found room elsewhere" in m for m in verify), verify
        assert verify[-1].startswith("no relapse: node %s memory stays < 85%%" % NODE)
        assert not entries(incident, "ESCALATE")
    finally:
        result.world.stop()

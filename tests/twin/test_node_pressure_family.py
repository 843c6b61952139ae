"""The node_memory_pressure family draws whether the batch pods can be rescheduled, and its
ground truth follows from that; the twin's `label` event opens the other nodes to them."""
import yaml

from scenarios.families import corpus
from twin.world import World


def test_ground_truth_follows_whether_the_pods_can_be_rescheduled():
    drawn = corpus(40, 0, ("node_memory_pressure",))
    kinds = set()
    for raw in drawn:
        truth = raw["ground_truth"]
        target = truth["root_cause"]["target"]["name"]
        others = {n["name"] for n in raw["topology"]["nodes"]} - {target}
        opened = {f["node"] for f in raw["faults"] if f["type"] == "label"
                  and f["labels"] == {"workload-class": "batch"}}
        kinds.add(truth["reschedulable"])
        if truth["reschedulable"]:
            assert opened == others and truth["expected_outcome"] == "remediate"
        else:
            assert not opened and truth["expected_outcome"] == "escalate"
    assert kinds == {True, False}  # both variants are drawn


def test_the_label_event_opens_a_node_while_the_running_pods_stay(tmp_path):
    raw = next(r for r in corpus(40, 0, ("node_memory_pressure",))
               if r["ground_truth"]["reschedulable"])
    path = tmp_path / (raw["name"] + ".yaml")
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    target = raw["ground_truth"]["root_cause"]["target"]["name"]
    batch = raw["ground_truth"]["cause_service"]
    other = next(f["node"] for f in raw["faults"] if f["type"] == "label")
    world = World.from_scenario(str(path), start_prometheus=False, start_nats=False)
    try:
        world.start()  # replays the history up to the pack's start (5 min before the onset)
        labels = world.store.get("nodes", None, other)["metadata"]["labels"]
        assert labels["workload-class"] == "batch"
        pods = [p for p in world.store.list("pods")[0]
                if p["metadata"]["name"].startswith(batch + "-")]
        assert len(pods) == 2 and all(p["spec"]["nodeName"] == target for p in pods)
    finally:
        world.stop()

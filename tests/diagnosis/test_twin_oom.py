"""On the twin (real Prometheus, real detectors, ClusterFacts): OOMKilled crash loops on a node
out of memory are diagnosed as the node's memory pressure before its own detector fires; a
deploy that dies at its own memory limit on roomy nodes stays a crash loop of the deployment."""
import pytest
import yaml

from support import twin_replay

pytestmark = pytest.mark.twin


def write(tmp_path, raw):
    path = tmp_path / (raw["name"] + ".yaml")
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return str(path)


def first_crash_loop_incident(out):
    firsts = [i for i in out["incidents"]
              if any(r.get("detector") == "crash_loop" for r in i.get("signal_records") or [])]
    assert firsts, [i["root_cause"].get("summary") for i in out["incidents"]]
    return firsts[0]


def test_oom_crash_loops_of_pods_pinned_to_a_full_node_are_the_nodes(tmp_path):
    from scenarios.families import generate

    raw = generate("node_memory_pressure", 145)  # the corpus' gen-node-memory-pressure-145
    node = raw["ground_truth"]["root_cause"]["target"]["name"]
    out = twin_replay.replay(write(tmp_path, raw), minutes_after_onset=9)
    incident = first_crash_loop_incident(out)
    root = incident["root_cause"]
    assert root["detector"] == "memory_pressure" and root["target"]["name"] == node, \
        incident["reasoning"]
    assert incident["playbook"] == "memory_pressure_node"
    assert "below their memory limits" in root["metadata"]["why"]
    assert len(root["metadata"]["oom_killed_pods"]) == 2
    assert twin_replay.names_truth(incident, out["ground_truth"])
    assert len(out["incidents"]) == 1  # the second pod's crash loop joined it


def test_a_deploy_oom_killed_at_its_own_limit_on_roomy_nodes_stays_a_crash_loop(tmp_path):
    from twin.scenario import scenario_path

    with open(scenario_path("crash-loop-bad-deploy")) as handle:
        raw = yaml.safe_load(handle)
    raw["name"] = "oom-own-limit"
    catalog = next(s for s in raw["topology"]["services"] if s["name"] == "catalog")
    catalog["versions"]["v2.4.0"] = {"memory": {"baseline": "300Mi", "leak_per_min": "400Mi"}}
    out = twin_replay.replay(write(tmp_path, raw), minutes_after_onset=8)
    incident = first_crash_loop_incident(out)
    root = incident["root_cause"]
    assert root["detector"] == "crash_loop" and root["service"] == "catalog"
    assert root["metadata"]["reason"] == "OOMKilled"
    assert incident["playbook"] == "pod_crash_loop"
    assert any("the OOM kill is the container's own" in line for line in incident["reasoning"])

"""On the twin (real API server, real Prometheus): the seed's diagnosis and the gate's reads."""
import pytest

from lib import clock, diagnosis, policy
from lib.config import load_settings
from lib.detectors import build_detectors
from lib.diagnosis_facts import ClusterFacts
from lib.kube import Kube
from lib.policy_cluster import KubeClusterReader
from lib.prom import Prom
from support import twin_replay
from support.healing_fakes import store

pytestmark = pytest.mark.twin
NODE = "gke-prod-pool-1-abc123"


@pytest.fixture(scope="module")
def seed():
    from twin.world import World

    world = World.from_scenario("seed-0317-memory-leak", start_nats=False)
    world.start()
    world.run_until(world.onset_epoch)
    clock.set_time_source(world.clock.now, world.advance_seconds)
    settings = load_settings({"mode": "autonomous",
                              "kubernetes": {"kubeconfig": world.kubeconfig_path},
                              "prometheus": {"url": world.prometheus_url}}, environ={})
    kube = Kube(settings.kubernetes)
    prom = Prom.from_settings(settings.prometheus)
    yield world, settings, kube, prom
    clock.reset()
    world.stop()


def test_seed_root_cause_is_the_leaking_deploy_not_the_node(seed):
    world, settings, kube, prom = seed
    signals = [s.to_dict() for d in build_detectors(settings, prom, kube)
               for s in d.detect(clock.now())]
    pressure = [s for s in signals if s["detector"] == "memory_pressure"]
    assert pressure and pressure[0]["target"]["name"] == NODE
    others = [s for s in signals if s is not pressure[0]]
    result = diagnosis.diagnose(pressure[0], ClusterFacts(settings, kube, prom), others, [])
    root = result["root_cause"]
    assert root["summary"] == "memory leak in analytics-worker v1.4.2", result["reasoning"]
    assert root["service"] == "analytics-worker" and root["target"]["node"] == NODE
    assert result["playbook"] == "memory_pressure_node"
    params = result["playbook_params"]
    assert (params["version"], params["previous_version"]) == ("v1.4.2", "v1.4.1")
    assert 44 <= params["deployed_minutes_before_onset"] <= 50
    assert twin_replay.names_truth(result, world.ground_truth)
    text = " ".join(result["reasoning"])
    assert "deployed" in text and "before onset" in text and "came later" in text


def test_gate_reads_nodes_and_targets_and_writes_events(seed):
    world, settings, kube, prom = seed
    reader = KubeClusterReader(kube)
    names = sorted(n.name for n in reader.nodes())
    assert names == ["gke-prod-pool-1-abc123", "gke-prod-pool-1-def456",
                     "gke-prod-pool-1-ghi789"]
    meta = reader.target_meta({"kind": "Deployment", "namespace": "production",
                               "name": "analytics-worker"})
    assert meta is not None and meta["labels"].get("app") == "analytics-worker"
    assert reader.target_meta({"kind": "Deployment", "namespace": "production",
                               "name": "nope"}) is None
    gate = policy.Gate(settings, store(), reader, kube)
    ok = gate.decide(policy.Request("memory_pressure_node", "cordon_node", "low",
                                    {"kind": "Node", "name": NODE}, "inc-twin"))
    assert ok["decision"] == "execute" and ok["event_error"] is None, ok
    missing = gate.decide(policy.Request("pod_crash_loop", "rollback_deployment", "medium",
                                         {"kind": "Deployment", "namespace": "production",
                                          "name": "nope"}, "inc-twin"))
    assert missing["decision"] == "deny" and "not found" in missing["reason"]
    from kubernetes import client, config

    admin = client.CoreV1Api(config.new_client_from_config(world.admin_kubeconfig_path))
    events = admin.list_namespaced_event("default").items  # the pack may only create them
    mine = [e for e in events if e.reason == "SelfHealingPolicy"]
    assert any(e.involved_object.name == NODE and "execute" in e.message for e in mine)
    assert all(e.source.component == "self-healing" for e in mine)

"""The detectors on the twin (real Prometheus + API server on a virtual clock): the fault's
root-cause signal is raised on the right target, a benign look-alike raises nothing."""
import pytest

from lib import clock
from lib.config import load_settings
from lib.datastore import Datastore
from lib.detectors.poller import DetectorPoller
from lib.kube import Kube
from support.detector_fakes import DictDatastore, have_prometheus

pytestmark = pytest.mark.skipif(not have_prometheus(), reason="prometheus not installed")


def run_scenario(name, minutes_after_onset):
    """Poll every 30 virtual seconds from the pack's start to onset + minutes; return the
    dispatched (virtual time, trigger, payload) and the world's ground truth."""
    from twin.world import World

    world = World.from_scenario(name, start_nats=False)
    world.start()
    clock.set_time_source(world.clock.now, world.advance_seconds)
    try:
        settings = load_settings({"prometheus": {"url": world.prometheus_url},
                                  "kubernetes": {"kubeconfig": world.kubeconfig_path}},
                                 environ={})
        events = []
        poller = DetectorPoller(settings, Datastore(DictDatastore()),
                                lambda trigger, payload: events.append(
                                    (world.now, trigger, payload)),
                                kube=Kube(settings["kubernetes"], attempts=1))
        end = world.onset_epoch + 60 * minutes_after_onset
        while world.now < end:
            result = poller.poll()
            assert result.errors == {}
            world.advance_seconds(30)
        return events, world.ground_truth, world.onset_epoch
    finally:
        clock.reset()
        world.stop()


def _on_target(payload, target):
    name = target["name"]
    return (payload["target"]["kind"] == target["kind"]
            and payload["target"]["namespace"] == target["namespace"]
            and (payload["target"]["name"] == name or payload["service"] == name))


def test_crash_loop_after_bad_deploy_is_detected_within_a_minute():
    events, truth, onset = run_scenario("crash-loop-bad-deploy", 3)
    root = truth["root_cause"]
    hits = [(at, p) for at, trigger, p in events
            if trigger == "self_healing." + root["detector"] and _on_target(p, root["target"])]
    assert hits, events
    at, payload = hits[0]
    assert at - onset <= 60
    assert payload["metadata"]["waiting_reason"] == "CrashLoopBackOff"
    assert payload["metadata"]["exit_code"] is not None
    assert clock.parse_iso(payload["first_detected"]) <= at


def test_cache_warmup_is_not_a_leak():
    events, truth, _ = run_scenario("benign-cache-warmup", 15)
    assert truth["kind"] == "benign"
    assert [(t, p["summary"]) for _, t, p in events] == []

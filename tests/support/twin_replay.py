"""Replay a twin scenario with the real detectors and diagnose every new signal in order.

A sensor-free harness for diagnosis on the twin: every 30 virtual seconds the enabled detectors
run against the twin's Prometheus; each new condition (detector + target) is diagnosed with the
earlier signals as recent signals and the incidents opened so far as open incidents.
"""
import os
import sys
from typing import Any, Dict, List

try:  # lib.k8s_workloads needs st2common; outside pytest use the stand-in like conftest does
    import st2common  # noqa: F401
except ImportError:
    from engine.standin import use_standin
    use_standin()

from lib import clock, diagnosis  # noqa: E402
from lib.config import load_settings  # noqa: E402
from lib.detectors import build_detectors  # noqa: E402
from lib.diagnosis_facts import ClusterFacts  # noqa: E402
from lib.kube import Kube  # noqa: E402
from lib.prom import Prom  # noqa: E402


def replay(name: str, minutes_after_onset: float = 6.0, poll_s: float = 30.0
           ) -> Dict[str, Any]:
    """{"incidents": [...], "joined": [...], "signals": [...], "ground_truth": {...}}."""
    from twin.world import World

    world = World.from_scenario(name, start_nats=False)
    world.start()
    try:
        clock.set_time_source(world.clock.now, world.advance_seconds)
        settings = load_settings({"kubernetes": {"kubeconfig": world.kubeconfig_path},
                                  "prometheus": {"url": world.prometheus_url}}, environ={})
        kube = Kube(settings.kubernetes)
        prom = Prom.from_settings(settings.prometheus)
        detectors = build_detectors(settings, prom, kube)
        seen: Dict[Any, Dict[str, Any]] = {}
        incidents: List[Dict[str, Any]] = []
        joined: List[Dict[str, Any]] = []
        end = world.onset_epoch + minutes_after_onset * 60
        while clock.now() < end:
            world.advance_seconds(poll_s)
            for detector in detectors:
                try:
                    found = detector.detect(clock.now())
                except Exception:  # a detector failing is not diagnosis's business here
                    continue
                for sig in found:
                    key = (sig.detector, sig.target_key)
                    if key in seen:
                        continue
                    payload = sig.to_dict()
                    facts = ClusterFacts(settings, kube, prom)
                    result = diagnosis.diagnose(payload, facts, list(seen.values()),
                                                [i for i in incidents])
                    seen[key] = payload
                    if result["joined"] or result.get("refined"):
                        joined.append(result)
                        for inc in incidents:
                            if inc["id"] == result["incident_id"]:
                                diagnosis.merge_joined(inc, payload, result)
                    else:
                        result["id"] = "inc-%d" % (len(incidents) + 1)
                        result["status"] = "open"
                        result["created_at"] = clock.isoformat(clock.now())
                        incidents.append(result)
        return {"incidents": incidents, "joined": joined, "signals": list(seen.values()),
                "ground_truth": world.ground_truth}
    finally:
        clock.reset()
        world.stop()


def names_truth(incident: Dict[str, Any], truth: Dict[str, Any]) -> bool:
    """The incident's root cause is a ground-truth cause: same detector and the same target,
    where a Deployment-named Pod target matches a pod of that service; or the cause service."""
    root = incident.get("root_cause") or {}
    target = root.get("target") or {}
    causes = truth.get("root_causes") or ([truth["root_cause"]] if truth.get("root_cause")
                                          else [])
    for cause in causes:
        want = (cause.get("target") or {}).get("name")
        if root.get("detector") == cause.get("detector") and \
                want in (target.get("name"), root.get("service")):
            return True
    return bool(truth.get("cause_service")) and root.get("service") == truth["cause_service"]


if __name__ == "__main__":  # PYTHONPATH=actions:. python tests/support/twin_replay.py [name ...]
    import time

    from twin.scenario import SCENARIO_DIR

    names = sys.argv[1:] or sorted(f[:-5] for f in os.listdir(SCENARIO_DIR)
                                   if f.endswith(".yaml"))
    hits = faults = fired = 0
    for scenario in names:
        started = time.monotonic()
        out = replay(scenario, float(os.environ.get("REPLAY_MINUTES", "6")))
        truth = out["ground_truth"]
        first = out["incidents"][0] if out["incidents"] else None
        ok = bool(first) and names_truth(first, truth)
        if truth.get("kind") == "fault":
            faults += 1
            fired += bool(out["signals"])
            hits += ok
        print("%-30s %-6s incidents %d joined %d signals %d  first root: %s  [%.1fs]" % (
            scenario, truth.get("kind"), len(out["incidents"]), len(out["joined"]),
            len(out["signals"]), (first or {}).get("root_cause", {}).get("summary", "-")[:70],
            time.monotonic() - started), "MATCH" if ok else "")
    print("fault scenarios whose first incident names the ground-truth root cause: %d/%d "
          "(%d with at least one signal within the window)" % (hits, faults, fired))

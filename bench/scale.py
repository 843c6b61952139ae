"""Scale benchmark: one poll of all detectors against twins of 100, 1,000 and 5,000 nodes.

    python -m bench.scale [--sizes 100,1000,5000] [--pods-per-node 30] [--out FILE]

Each size runs in its own process (`--world N`) that builds and starts a synthetic twin
(`World.synthetic(nodes=N, pods_per_node=30)`); that process starts a separate poll process
(`--poll`), which imports the pack, runs one warm-up poll and then the measured poll, and
reports its wall time, CPU time and peak RSS. The poll process holds nothing but the pack, so
its RSS is what a sensor costs. Four polls (one cycle of pod shards) are timed
after a warm-up poll; the slowest is reported. Writes `{"points": [{"nodes", "pods", "poll_wall_s",
"poll_cpu_s", "peak_rss_mb", ...}]}`.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any, Dict, List

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "build", "bench", "scale.json")
GOAL_WALL_S = 2.0
GOAL_RSS_MB = 300.0
CYCLE = 4  # polls measured after the warm-up poll (one full cycle of pod shards)


class MemoryDatastore(object):
    """The few sensor_service datastore calls the poller makes, kept in a dict."""

    def __init__(self) -> None:
        self.items: Dict[str, str] = {}

    def get_value(self, name: str, local: bool = True) -> Any:
        return self.items.get(name)

    def set_value(self, name: str, value: str, ttl: Any = None, local: bool = True) -> bool:
        self.items[name] = value
        return True

    def delete_value(self, name: str, local: bool = True) -> bool:
        return self.items.pop(name, None) is not None

    def list_values(self, local: bool = True, prefix: str = "") -> List[Dict[str, str]]:
        return [{"name": k, "value": v} for k, v in self.items.items()
                if k.startswith(prefix or "")]


def poll_once(prometheus_url: str, kubeconfig: str, now: float) -> Dict[str, Any]:
    """In the poll process: set up the detectors like the sensor does and time one poll."""
    sys.path.insert(0, os.path.join(REPO_ROOT, "actions"))
    from lib import clock
    from lib.config import load_settings
    from lib.datastore import Datastore
    from lib.detectors.poller import DetectorPoller
    from lib.kube import Kube

    clock.set_time_source(lambda: now)
    settings = load_settings({"prometheus": {"url": prometheus_url, "timeout_s": 30},
                              "kubernetes": {"kubeconfig": kubeconfig}}, environ={})
    dispatched: List[Any] = []
    poller = DetectorPoller(settings, Datastore(MemoryDatastore()),
                            lambda trigger, payload: dispatched.append(trigger),
                            kube=Kube(settings["kubernetes"], attempts=1))
    timings: Dict[str, float] = {}
    for detector in poller.detectors:
        detector.detect = _timed(detector.detect, detector.name, timings)
    started = time.perf_counter()
    first = poller.poll()
    first_wall = time.perf_counter() - started
    # A full cycle of polls (pod-scanning detectors read one shard of the pods per poll);
    # the slowest poll of the cycle is reported.
    walls: List[float] = []
    cpus: List[float] = []
    errors = dict(first.errors)
    slowest: Dict[str, float] = {}
    for _ in range(CYCLE):
        timings.clear()
        cpu_before = time.process_time()
        started = time.perf_counter()
        result = poller.poll()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu_before)
        errors.update(result.errors)
        if walls[-1] >= max(walls):
            slowest = dict(timings)
    wall, cpu = max(walls), max(cpus)
    peak_mb = peak_rss_mb()
    series = poller.prom.query("count(container_memory_working_set_bytes)")
    return {"poll_wall_s": round(wall, 3), "poll_cpu_s": round(cpu, 3),
            "peak_rss_mb": round(peak_mb, 1), "first_poll_wall_s": round(first_wall, 3),
            "signals": sum(first.seen.values()), "triggers": len(dispatched),
            "pod_memory_series": int(series[0].value) if series else 0,
            "poll_wall_mean_s": round(sum(walls) / len(walls), 3),
            "detector_wall_s": {k: round(v, 3) for k, v in sorted(slowest.items())},
            "errors": errors}


def _timed(fn: Any, name: str, timings: Dict[str, float]) -> Any:
    """Wrap a detector's detect() to record its wall time (threads run them concurrently)."""
    def timed(now: float) -> Any:
        started = time.perf_counter()
        try:
            return fn(now)
        finally:
            timings[name] = time.perf_counter() - started
    return timed


def peak_rss_mb() -> float:
    """Peak RSS of this process since its exec (VmHWM; ru_maxrss would include the memory
    of the parent it was forked from)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_world(nodes: int, pods_per_node: int, minutes: float) -> Dict[str, Any]:
    """In the world process: start a synthetic twin, let it run `minutes` of virtual time
    (so the detectors' windows hold data), then run the poll process against it."""
    sys.path.insert(0, REPO_ROOT)
    from twin.world import World

    started = time.perf_counter()
    world = World.synthetic(nodes=nodes, pods_per_node=pods_per_node, start_nats=False)
    world.start()
    world.advance_seconds(60 * minutes)
    build_s = time.perf_counter() - started
    try:
        child = subprocess.run(
            [sys.executable, "-m", "bench.scale", "--poll", "--prometheus", world.prometheus_url,
             "--kubeconfig", world.kubeconfig_path, "--now", repr(world.now)],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
            universal_newlines=True, timeout=600)
    finally:
        world.stop()
    if child.returncode != 0:
        raise RuntimeError("poll process failed (%d): %s" % (child.returncode,
                                                             child.stderr[-2000:]))
    point = json.loads(child.stdout.strip().splitlines()[-1])
    point.update(nodes=nodes, pods=nodes * pods_per_node, twin_build_s=round(build_s, 1))
    return point


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--pods-per-node", type=int, default=30)
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--minutes", type=float, default=5.0,
                        help="virtual minutes the twin runs before the poll")
    parser.add_argument("--world", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--poll", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--prometheus", help=argparse.SUPPRESS)
    parser.add_argument("--kubeconfig", help=argparse.SUPPRESS)
    parser.add_argument("--now", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.poll:
        print(json.dumps(poll_once(args.prometheus, args.kubeconfig, args.now)))
        return 0
    if args.world:
        print(json.dumps(run_world(args.world, args.pods_per_node, args.minutes)))
        return 0
    points = []
    print("%7s %8s %12s %11s %12s %14s %s" % ("nodes", "pods", "poll_wall_s", "poll_cpu_s",
                                            "peak_rss_mb", "first_poll_s", "notes"))
    for size in [int(s) for s in args.sizes.split(",") if s]:
        child = subprocess.run(
            [sys.executable, "-m", "bench.scale", "--world", str(size),
             "--pods-per-node", str(args.pods_per_node), "--minutes", str(args.minutes)],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
            universal_newlines=True, timeout=3600)
        if child.returncode != 0:
            print("%7d failed: %s" % (size, child.stderr.strip()[-1500:]))
            continue
        point = json.loads(child.stdout.strip().splitlines()[-1])
        points.append(point)
        notes = []
        if point["poll_wall_s"] > GOAL_WALL_S:
            notes.append("over %.0f s goal" % GOAL_WALL_S)
        if point["peak_rss_mb"] > GOAL_RSS_MB:
            notes.append("over %.0f MB goal" % GOAL_RSS_MB)
        if point["errors"]:
            notes.append("errors: %s" % ", ".join(sorted(point["errors"])))
        print("%7d %8d %12.3f %11.3f %12.1f %14.3f %s" % (
            point["nodes"], point["pods"], point["poll_wall_s"], point["poll_cpu_s"],
            point["peak_rss_mb"], point["first_poll_wall_s"], "; ".join(notes)))
        sys.stdout.flush()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump({"points": points}, handle, indent=2, sort_keys=True)
    print("wrote %s" % args.out)
    return 0 if points else 1


if __name__ == "__main__":
    sys.exit(main())

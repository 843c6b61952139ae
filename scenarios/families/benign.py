"""Benign look-alike families: nothing is wrong, and the pack must change nothing."""
from typing import Any, Dict

from scenarios.families.common import (Draw, background, duration, mib, nodes, scenario,
                                       service)
from twin.scenario import parse_cpu

BENIGN = {"kind": "benign", "expected_outcome": "none"}


def warmup_after_deploy(draw: Draw) -> Dict[str, Any]:
    """A new version fills a cache after its deploy, with a time constant of 5-40 minutes,
    and plateaus where the previous version did."""
    ns = draw.pick(("production", "shop", "core"))
    name = draw.name()
    baseline = draw.uniform(200, 600)
    warm = draw.uniform(300, 1500)
    tau = draw.uniform(5, 40)
    limit = (baseline + warm) / draw.uniform(0.55, 0.8)
    svc = service(draw, name, ns, rps=draw.uniform(10, 60), replicas=draw.integer(2, 4),
                  memory_limit_mi=limit, baseline_mi=baseline)
    old, new = draw.upgrade(svc)
    profile = {"baseline": mib(baseline), "warmup": mib(warm), "warmup_tau": "%dm" % tau}
    svc["versions"][old] = {"memory": dict(profile)}
    svc["versions"][new] = {"memory": dict(profile)}
    since = draw.uniform(5, 20)
    svc["deploys"].append({"version": new, "at": duration(-since * 60)})
    topo = {"nodes": nodes(draw, memory_gi=64), "services": background(draw, ns) + [svc]}
    return scenario(draw, "warmup_after_deploy", "%s %s warms up %s with tau %.0f min after "
                    "its deploy %.0f min before the onset" % (name, new, mib(warm), tau, since),
                    topo, dict(BENIGN), duration_min=45)


def scheduled_burst(draw: Draw) -> Dict[str, Any]:
    """A scheduled job runs on every pod of a service for a few minutes (CPU burst)."""
    ns = draw.pick(("production", "batch", "core"))
    name = draw.name()
    replicas = draw.integer(2, 4)
    svc = service(draw, name, ns, rps=draw.uniform(20, 80), replicas=replicas)
    topo = {"nodes": nodes(draw), "services": background(draw, ns) + [svc]}
    length = draw.uniform(2, 6)
    faults = [{"type": "cpu_demand", "service": name, "at": "0s",
               "until": "%ds" % int(length * 60), "factor": round(draw.uniform(2, 5), 1),
               "ramp": "%ds" % draw.integer(15, 60)}]
    return scenario(draw, "scheduled_burst", "nightly job on every %s pod for %.1f min" % (
        name, length), topo, dict(BENIGN), faults)


def traffic_surge(draw: Draw) -> Dict[str, Any]:
    """Traffic rises 2-4x for a while; the HPA absorbs it."""
    ns = draw.pick(("production", "storefront"))
    services = background(draw, ns)
    entry = services[0]
    entry["hpa"] = {"min": entry["replicas"], "max": 12, "cpu_target_pct": 60}
    entry["traffic"]["cpu_per_rps"] = 0.003
    peak = round(draw.uniform(2, 4), 1)
    rise = draw.integer(1, 5)
    hold = draw.integer(8, 20)
    load = {entry["name"]: [["-70m", 1.0], ["0s", 1.0], ["%dm" % rise, peak],
                            ["%dm" % (rise + hold), peak], ["%dm" % (rise + hold + 3), 1.0]]}
    topo = {"nodes": nodes(draw), "services": services}
    return scenario(draw, "traffic_surge", "%s traffic x%.1f for %d min" % (
        entry["name"], peak, hold), topo, dict(BENIGN), load=load)


def planned_maintenance(draw: Draw) -> Dict[str, Any]:
    """An operator drains a node (PDBs respected); pods move elsewhere."""
    ns = draw.pick(("production", "core"))
    node_list = nodes(draw, count=draw.integer(3, 5))
    target = node_list[draw.integer(0, len(node_list) - 1)]["name"]
    topo = {"nodes": node_list, "services": background(draw, ns)}
    faults = [{"type": "drain", "node": target, "at": "%ds" % draw.integer(0, 120)}]
    return scenario(draw, "planned_maintenance", "operator drains %s" % target, topo,
                    dict(BENIGN), faults)


def rolling_deploy(draw: Draw) -> Dict[str, Any]:
    """A healthy new version rolls out (slow start-up)."""
    ns = draw.pick(("production", "shop", "payments"))
    services = background(draw, ns)
    svc = services[draw.integer(0, len(services) - 1)]
    _, new = draw.upgrade(svc)
    svc["versions"][new] = {"memory": {"baseline": "300Mi"},
                            "startup": "%ds" % draw.integer(10, 60)}
    topo = {"nodes": nodes(draw), "services": services}
    faults = [{"type": "deploy", "service": svc["name"], "version": new,
               "at": "%ds" % draw.integer(0, 120)}]
    return scenario(draw, "rolling_deploy", "%s rolls out %s" % (svc["name"], new), topo,
                    dict(BENIGN), faults)


def backup_disk(draw: Draw) -> Dict[str, Any]:
    """A backup spools to a node's disk at a pace that would take 5-10 hours to fill it,
    then ships off (the disk detector's horizon is 4 hours)."""
    ns = draw.pick(("production", "ops"))
    node_list = nodes(draw)
    target = node_list[0]["name"]
    topo = {"nodes": node_list, "services": background(draw, ns)}
    minutes = draw.integer(10, 40)
    rate = 70.0 / (60 * draw.uniform(5, 10))          # GiB/min with 70 GiB free
    faults = [{"type": "disk_fill", "node": target, "at": "0s", "until": "%dm" % minutes,
               "rate_per_min": mib(rate * 1024)},
              {"type": "disk_free", "node": target, "at": "%dm" % (minutes + 2),
               "bytes": mib(rate * 1024 * minutes)}]
    return scenario(draw, "backup_disk", "backup of %.0f GiB on %s" % (rate * minutes, target),
                    topo, dict(BENIGN), faults)


def latency_blip(draw: Draw) -> Dict[str, Any]:
    """A dependency pauses (GC pause, cold cache after a restart): p99 x3-6 for 20-60 s, then
    back to normal. The 5m-window p99 crosses the latency threshold, briefly."""
    ns = draw.pick(("production", "shop", "core", "prod-eu"))
    services = background(draw, ns)
    svc = services[draw.integer(1, len(services) - 1)]
    factor = round(draw.uniform(3, 6), 1)
    length = draw.integer(20, 60)
    at = draw.integer(0, 120)
    faults = [{"type": "latency", "service": svc["name"], "at": "%ds" % at,
               "until": "%ds" % (at + length), "factor": factor}]
    topo = {"nodes": nodes(draw), "services": services}
    return scenario(draw, "latency_blip", "%s p99 x%.1f for %d s (GC pause)" % (
        svc["name"], factor, length), topo, dict(BENIGN), faults)


def error_blip(draw: Draw) -> Dict[str, Any]:
    """A client retry storm (or pods killed mid-request during a rollout) fails a large share
    of a service's requests for 20-50 s; it heals by itself. The failing share is drawn so
    that the 5m-window error ratio reaches 1.1-1.6x the 5 % SLO."""
    ns = draw.pick(("production", "shop", "payments", "storefront"))
    services = background(draw, ns)
    svc = services[draw.integer(1, len(services) - 1)]
    length = draw.integer(20, 50)
    ratio = min(0.9, 0.05 * draw.uniform(1.1, 1.6) * 300.0 / length)
    at = draw.integer(0, 120)
    faults = [{"type": "errors", "service": svc["name"], "at": "%ds" % at,
               "until": "%ds" % (at + length), "error_ratio": round(ratio, 3)}]
    topo = {"nodes": nodes(draw), "services": services}
    return scenario(draw, "error_blip", "%s fails %.0f%% of requests for %d s (retry storm)"
                    % (svc["name"], 100 * ratio, length), topo, dict(BENIGN), faults)


def throttle_blip(draw: Draw) -> Dict[str, Any]:
    """A short CPU burst (a cache rebuild, a report) demands 1.5-2x the CPU limit for
    120-200 s: the containers throttle, for less than the throttling persistence (5 min)."""
    ns = draw.pick(("production", "batch", "core"))
    name = draw.name()
    replicas = draw.integer(2, 4)
    rps = draw.uniform(20, 80)
    svc = service(draw, name, ns, rps=rps, replicas=replicas)
    svc["traffic"]["base_cpu"] = round(draw.uniform(0.1, 0.3), 3)
    per_pod = svc["traffic"]["base_cpu"] + svc["traffic"]["cpu_per_rps"] * rps / replicas
    limit = parse_cpu(svc["limits"]["cpu"])
    factor = round(limit * draw.uniform(1.5, 2.0) / per_pod, 1)
    length = draw.integer(120, 200)
    topo = {"nodes": nodes(draw), "services": background(draw, ns) + [svc]}
    faults = [{"type": "cpu_demand", "service": name, "at": "0s", "until": "%ds" % length,
               "factor": factor, "ramp": "%ds" % draw.integer(5, 20)}]
    return scenario(draw, "throttle_blip", "%s CPU x%.1f (%.1fx its limit) for %d s" % (
        name, factor, factor * per_pod, length), topo, dict(BENIGN), faults)


FAMILIES = {f.__name__: f for f in (warmup_after_deploy, scheduled_burst, traffic_surge,
                                    planned_maintenance, rolling_deploy, backup_disk,
                                    latency_blip, error_blip, throttle_blip)}

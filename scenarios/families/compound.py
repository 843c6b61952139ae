"""Compound families: cascades of depth 2-4, two simultaneous faults, a fault during
Prometheus / API server / NATS trouble."""
from typing import Any, Dict, List

from scenarios.families import faults as fault_families
from scenarios.families.common import Draw, nodes, scenario, service

# faults whose autonomous fix is expected (the compound families combine these)
FIXABLE = ("memory_leak", "crash_loop", "connection_pool", "disk_pressure", "error_rate",
           "cpu_throttling", "node_memory_pressure")


def cascade(draw: Draw) -> Dict[str, Any]:
    """entry -> ... -> deepest (2-4 services): the deepest slows down; every caller inherits
    it. Symptoms surface in an order set by the drawn baselines, not by depth."""
    ns = draw.pick(("production", "shop", "core"))
    depth = draw.integer(2, 4)
    names = [draw.name() for _ in range(depth)]
    p99s = [draw.uniform(30, 300) for _ in range(depth)]
    chain: List[Dict[str, Any]] = []
    for i, name in enumerate(names):
        deps = [names[i + 1]] if i + 1 < depth else None
        chain.append(service(draw, name, ns, rps=draw.uniform(20, 150) if i == 0 else
                             draw.uniform(0, 30), p99_ms=p99s[i], depends_on=deps))
    deepest = names[-1]
    factor = draw.uniform(5, 14)
    topo = {"nodes": nodes(draw), "services": chain}
    faults = [{"type": "latency", "service": deepest, "at": "0s", "factor": round(factor, 1),
               "ramp": "%ds" % draw.integer(30, 120)}]
    top = names[0]
    # Breakers on the deepest service's callers contain a slowdown that cascades through a
    # chain (depth >= 3: callers of callers); at depth 2 the only caller is the entry, there is
    # no chain to contain and the facts are the latency_anomaly family's (an upstream slows,
    # nothing in the cluster caused it, its caller inherits it): protect, then a human.
    truth = {"kind": "fault", "expected_outcome": "remediate" if depth >= 3 else "escalate",
             "cause_service": deepest,
             "root_cause": {"detector": "latency_anomaly", "target": {
                 "kind": "Service", "namespace": ns, "name": deepest}},
             "acceptable_remediations": ["configure_circuit_breaker", "notify_dependents",
                                         "create_incident_report"],
             "recovery": {"query": "histogram_quantile(0.99, sum by (le) (rate("
                          'istio_request_duration_milliseconds_bucket{destination_workload="%s"}'
                          "[2m])))" % top, "comparator": "<",
                          "threshold": round(2 * sum(p99s), 1), "hold": "3m"},
             "depth": depth}
    return scenario(draw, "cascade", "%s slows x%.0f; callers %s inherit it" % (
        deepest, factor, " <- ".join(reversed(names[:-1]))), topo, truth, faults)


def _merge(first: Dict[str, Any], second: Dict[str, Any], family: str,
           draw: Draw) -> Dict[str, Any]:
    out = first
    out["name"] = "gen-%s-%d" % (family.replace("_", "-"), draw.seed)
    out["topology"]["nodes"] += second["topology"]["nodes"]
    out["topology"]["services"] += second["topology"]["services"]
    out["faults"] = list(first.get("faults") or []) + list(second.get("faults") or [])
    a, b = first["ground_truth"], second["ground_truth"]
    # the run counts as remediated when one part is fixed (harness.outcome.observed_outcome);
    # the recovery to judge is a fixed part's (an escalated part's is no autonomous fix)
    fixed = [t for t in (a, b) if t.get("expected_outcome") == "remediate"]
    truth = {"kind": "fault", "expected_outcome": "remediate" if fixed else "escalate",
             "family": family,
             "root_causes": [a["root_cause"], b["root_cause"]],
             "acceptable_remediations": sorted(set(a.get("acceptable_remediations") or []) |
                                               set(b.get("acceptable_remediations") or [])),
             "recovery": (fixed[0] if fixed else a).get("recovery"),
             "parts": [a["family"], b["family"]]}
    out["ground_truth"] = truth
    out["description"] = "%s; and %s" % (first["description"], second["description"])
    timing = out["timing"]
    timing["history"] = "%dm" % max(int(first["timing"]["history"][:-1]),
                                    int(second["timing"]["history"][:-1]))
    timing["duration"] = "%dm" % max(int(first["timing"]["duration"][:-1]),
                                     int(second["timing"]["duration"][:-1]))
    return out


def multi_fault(draw: Draw) -> Dict[str, Any]:
    """Two independent fixable faults at once, each with its own root cause."""
    one, two = draw.rng.sample(FIXABLE, 2)
    return _merge(fault_families.FAMILIES[one](draw), fault_families.FAMILIES[two](draw),
                  "multi_fault", draw)


def fault_during_infra_trouble(draw: Draw) -> Dict[str, Any]:
    """A fixable fault while Prometheus, the API server or NATS misbehaves around the onset."""
    raw = fault_families.FAMILIES[draw.pick(FIXABLE)](draw)
    start = draw.integer(0, 4) * 60
    length = draw.integer(1, 3) * 60
    trouble = draw.pick(("prometheus_slow", "prometheus_down", "api_errors", "nats_down"))
    when = {"at": "%ds" % start, "until": "%ds" % (start + length)}
    if trouble == "prometheus_slow":
        item = dict(when, target="prometheus", params={"kind": "slow", "delay_s": round(
            draw.uniform(0.2, 0.8), 2)})
    elif trouble == "prometheus_down":
        item = dict(when, target="prometheus", params={"kind": "down", "how": "503"})
    elif trouble == "api_errors":
        item = dict(when, target="api", params={"verb": "list", "resource": "pods",
                                                 "status": 503, "probability": 0.3})
    else:
        item = dict(when, target="nats")
    raw["infra_faults"] = [item]
    truth = raw["ground_truth"]
    truth["parts"] = [truth["family"], trouble]
    truth["family"] = "fault_during_infra_trouble"
    raw["name"] = "gen-fault-during-infra-trouble-%d" % draw.seed
    raw["description"] += "; %s from %ds to %ds" % (trouble, start, start + length)
    return raw


FAMILIES = {f.__name__: f for f in (cascade, multi_fault, fault_during_infra_trouble)}

"""Shared drawing helpers of the scenario generator: names, nodes, services, timing.

Every family draws from one `random.Random(seed)`, so a (family, seed) pair is one scenario.
Sizes are written as Kubernetes quantities, times as durations relative to the onset
(scenarios/README.md).
"""
import random
from typing import Any, Dict, List, Optional, Tuple

WORDS = ("ledger", "checkout", "quotes", "inventory", "billing", "profile", "media",
         "notify", "geo", "auth", "feed", "pricing", "shipping", "review", "search", "wallet",
         "catalogue", "basket", "tickets", "routing", "ingest", "reports", "identity", "promo")
SUFFIXES = ("", "-api", "-svc", "-worker", "-backend", "-gateway")
NAMESPACES = ("production", "shop", "prod-eu", "payments", "core", "storefront")
POOLS = ("pool-a", "prod-pool-1", "general", "np-main", "workers")
SCRAPES = (15, 20, 30, 45, 60)


class Draw(object):
    """Seeded choices for one scenario; keeps the names already used unique."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.used: set = set()

    def pick(self, items: Any) -> Any:
        return self.rng.choice(list(items))

    def uniform(self, low: float, high: float) -> float:
        return self.rng.uniform(low, high)

    def integer(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def name(self) -> str:
        for _ in range(200):
            candidate = self.pick(WORDS) + self.pick(SUFFIXES)
            if candidate not in self.used:
                self.used.add(candidate)
                return candidate
        raise RuntimeError("ran out of service names")

    def version(self) -> str:
        return "v%d.%d.%d" % (self.integer(0, 6), self.integer(0, 20), self.integer(0, 9))

    def next_version(self, version: str) -> str:
        major, minor, patch = (int(x) for x in version[1:].split("."))
        return "v%d.%d.%d" % (major, minor + self.integer(0, 1), patch + self.integer(1, 3))

    def upgrade(self, svc: Dict[str, Any]) -> Tuple[str, str]:
        """(the version `svc` runs, a drawn next version)."""
        old = current_version(svc)
        return old, self.next_version(old)


def mib(value: float) -> str:
    return "%dMi" % max(1, int(round(value)))


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    sign = "-" if seconds < 0 else ""
    return "%s%ds" % (sign, abs(seconds))


def nodes(draw: Draw, count: Optional[int] = None, memory_gi: Optional[int] = None
          ) -> List[Dict[str, Any]]:
    pool = draw.pick(POOLS)
    prefix = draw.pick(("gke-prod", "aks-prod", "ip-10-0", "k8s-worker", "eks-prod"))
    memory = memory_gi or draw.pick((16, 32, 64))
    out = []
    for _ in range(count or draw.integer(3, 5)):
        suffix = "%05x" % draw.integer(0, 0xfffff)
        out.append({"name": "%s-%s-%s" % (prefix, pool, suffix), "pool": pool,
                    "cpu": draw.pick((8, 16)), "memory": "%dGi" % memory,
                    "system_memory": "1.5Gi", "disk": "100Gi", "disk_used": "30Gi"})
    return out


def service(draw: Draw, name: str, namespace: str, rps: float, replicas: int = 2,
            memory_limit_mi: float = 1024, baseline_mi: float = 300, cpu_limit: str = "1",
            p99_ms: Optional[float] = None, depends_on: Optional[List[str]] = None,
            **extra: Any) -> Dict[str, Any]:
    p99 = p99_ms if p99_ms is not None else draw.uniform(50, 250)
    version = draw.version()
    spec = {"name": name, "namespace": namespace, "replicas": replicas,
            "requests": {"cpu": "250m", "memory": mib(min(512, memory_limit_mi / 2))},
            "limits": {"cpu": cpu_limit, "memory": mib(memory_limit_mi)},
            "traffic": {"rps": round(rps, 1), "p50_ms": round(p99 / 4.0, 1),
                        "p99_ms": round(p99, 1), "error_ratio": 0.001,
                        "cpu_per_rps": 0.002},
            "versions": {version: {"memory": {"baseline": mib(baseline_mi)}}},
            "deploys": [{"version": version, "at": "-7d"}]}
    if depends_on:
        spec["depends_on"] = list(depends_on)
    spec.update(extra)
    return spec


def current_version(svc: Dict[str, Any]) -> str:
    return svc["deploys"][-1]["version"]


def background(draw: Draw, namespace: str, count: Optional[int] = None
               ) -> List[Dict[str, Any]]:
    """An entry service calling a few healthy backends (the cluster's ordinary life)."""
    backends = [service(draw, draw.name(), namespace, rps=draw.uniform(20, 80))
                for _ in range(count or draw.integer(1, 3))]
    entry = service(draw, draw.name(), namespace, rps=draw.uniform(80, 250), replicas=3,
                    depends_on=[b["name"] for b in backends], pdb={"min_available": 2})
    return [entry] + backends


def background_calling(draw: Draw, namespace: str, name: str) -> List[Dict[str, Any]]:
    """background(), its entry service calling `name` as well."""
    services = background(draw, namespace)
    services[0].setdefault("depends_on", []).append(name)
    return services


def scenario(draw: Draw, family: str, description: str, topology: Dict[str, Any],
             truth: Dict[str, Any], faults: Optional[List[Dict[str, Any]]] = None,
             duration_min: int = 30, history_min: int = 70,
             load: Optional[Dict[str, Any]] = None,
             infra: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    """The scenario document (twin/scenario.py's format) with the drawn timing."""
    step = draw.pick(SCRAPES)
    onset = "%02d:%02d:%02d" % (draw.integer(0, 23), draw.integer(0, 59), draw.integer(0, 59))
    raw: Dict[str, Any] = {
        "name": "gen-%s-%d" % (family.replace("_", "-"), draw.seed),
        "description": description, "seed": draw.seed,
        "timing": {"history": "%dm" % history_min, "lead": "5m",
                   "duration": "%dm" % duration_min, "step": "%ds" % step,
                   "onset_time_of_day": onset},
        "topology": topology, "ground_truth": dict(truth, family=family)}
    if faults:
        raw["faults"] = faults
    if load:
        raw["load"] = load
    if infra:
        raw["infra_faults"] = infra
    return raw

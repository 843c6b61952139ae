"""Scenario files: load, validate and normalise the public YAML format (scenarios/README.md).

`load_scenario(name_or_path)` returns a `Scenario` whose times are seconds relative to the onset
(negative = before), sizes are bytes, CPU is cores. Unknown top-level keys are rejected so that
typos do not silently change a scenario.
"""
from __future__ import annotations

import copy
import os
import re
from typing import Any, Dict, List, Optional

import yaml

from twin.pack_lib import catalogue

SCENARIO_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "scenarios")
# what a scenario's ground truth may name: the pack catalogue's detectors
DETECTORS = catalogue.DETECTOR_NAMES
OUTCOMES = ("remediate", "escalate", "none")
# Which exporters' metric names the twin writes (scenario key `metrics`): the HTTP request
# metrics of a mesh / ingress / OpenTelemetry SDK, and the DB connection-pool gauges.
HTTP_METRICS = ("istio", "linkerd", "ingress-nginx", "otel", "none")
POOL_METRICS = ("hikaricp", "otel")
_TOP_KEYS = {"name", "description", "timing", "topology", "load", "faults", "infra_faults",
             "ground_truth", "seed", "metrics"}
_UNITS = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 1024, "Mi": 1024 ** 2,
          "Gi": 1024 ** 3, "Ti": 1024 ** 4, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KiB": 1024,
          "MiB": 1024 ** 2, "GiB": 1024 ** 3}
_DURATION = re.compile(r"^([+-]?)((?:\d+(?:\.\d+)?[smhd])+)$")


class ScenarioError(ValueError):
    """A scenario file is invalid; the message names the field."""


def parse_bytes(value: Any) -> float:
    """'4Gi', '3.2GB', '500Mi', 1024 -> bytes."""
    if isinstance(value, (int, float)):
        return float(value)
    match = re.match(r"^\s*([0-9.]+)\s*([A-Za-z]*)\s*$", str(value))
    if not match or match.group(2) not in _UNITS:
        raise ScenarioError(f"bad size {value!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_cpu(value: Any) -> float:
    """'500m', '2', 0.5 -> cores."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if text.endswith("m"):
        return float(text[:-1]) / 1000.0
    return float(text)


def parse_duration(value: Any) -> float:
    """'-47m', '1h30m', '90s', '3d', 15 -> seconds (numbers are seconds)."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    match = _DURATION.match(text)
    if not match:
        raise ScenarioError(f"bad duration {value!r}")
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)([smhd])", match.group(2)):
        total += float(number) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    return -total if match.group(1) == "-" else total


def cpu_string(cores: float) -> str:
    """Cores as a Kubernetes quantity string."""
    millis = int(round(cores * 1000))
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def bytes_string(value: float) -> str:
    """Bytes as a Kubernetes quantity string (Mi precision)."""
    mib = int(round(value / 1024 ** 2))
    if mib % 1024 == 0:
        return f"{mib // 1024}Gi"
    return f"{mib}Mi"


_MEMORY_DEFAULTS = {"baseline": "256Mi", "warmup": 0, "warmup_tau": "5m", "leak_per_min": 0,
                    "leak_scales_with_load": False, "jitter": 0.02}
_TRAFFIC_DEFAULTS = {"rps": 0.0, "p50_ms": 20.0, "p99_ms": 80.0, "error_ratio": 0.001,
                     "base_cpu": 0.05, "cpu_per_rps": 0.002}


class Scenario:
    """A validated scenario; attributes mirror the YAML with parsed units."""

    def __init__(self, raw: Dict[str, Any], path: str = "") -> None:
        self.raw = copy.deepcopy(raw)
        self.path = path
        unknown = set(raw) - _TOP_KEYS
        if unknown:
            raise ScenarioError(f"unknown top-level keys: {sorted(unknown)}")
        self.name = str(_required(raw, "name"))
        self.description = str(raw.get("description", ""))
        self.seed = int(raw.get("seed", 0))
        timing = raw.get("timing") or {}
        self.onset_time_of_day: Optional[str] = timing.get("onset_time_of_day")
        if self.onset_time_of_day and not re.match(r"^\d\d:\d\d:\d\d$", self.onset_time_of_day):
            raise ScenarioError("timing.onset_time_of_day: must be HH:MM:SS (UTC)")
        self.history_s = parse_duration(timing.get("history", "70m"))
        self.lead_s = parse_duration(timing.get("lead", "5m"))
        self.duration_s = parse_duration(timing.get("duration", "30m"))
        self.step_s = parse_duration(timing.get("step", "15s"))
        if not 0 <= self.lead_s <= self.history_s:
            raise ScenarioError("timing: need 0 <= lead <= history")
        topology = _required(raw, "topology")
        self.nodes = [self._node(n, i) for i, n in enumerate(_expand_nodes(topology))]
        if not self.nodes:
            raise ScenarioError("topology.nodes: at least one node is required")
        self.pools = {name: dict(spec or {}) for name, spec in
                      (topology.get("pools") or {}).items()}
        self.services = [self._service(s, i) for i, s in
                         enumerate(topology.get("services") or [])]
        self.certificates = [self._certificate(c, i) for i, c in
                             enumerate(topology.get("certificates") or [])]
        names = [s["name"] for s in self.services]
        for svc in self.services:
            for dep in svc["depends_on"]:
                if dep not in names:
                    raise ScenarioError(f"services.{svc['name']}.depends_on: unknown {dep!r}")
        self.load = {svc: [(parse_duration(t), float(m)) for t, m in points]
                     for svc, points in (raw.get("load") or {}).items()}
        self.faults = [self._fault(f, i) for i, f in enumerate(raw.get("faults") or [])]
        self.infra_faults = [self._infra(f, i) for i, f in
                             enumerate(raw.get("infra_faults") or [])]
        self.ground_truth = self._ground_truth(_required(raw, "ground_truth"))
        self.metrics = self._metrics(raw.get("metrics") or {})

    @staticmethod
    def _metrics(spec: Any) -> Dict[str, str]:
        if not isinstance(spec, dict):
            raise ScenarioError("metrics: must be a mapping like {http: linkerd, pool: otel}")
        unknown = set(spec) - {"http", "pool"}
        if unknown:
            raise ScenarioError(f"metrics: unknown keys {sorted(unknown)} (allowed: http, pool)")
        out = {"http": str(spec.get("http", "istio")), "pool": str(spec.get("pool", "hikaricp"))}
        if out["http"] not in HTTP_METRICS:
            raise ScenarioError(f"metrics.http: must be one of {', '.join(HTTP_METRICS)}, "
                                f"got {out['http']!r}")
        if out["pool"] not in POOL_METRICS:
            raise ScenarioError(f"metrics.pool: must be one of {', '.join(POOL_METRICS)}, "
                                f"got {out['pool']!r}")
        return out

    # ----------------------------------------------------------------- sections
    @staticmethod
    def _node(spec: Dict[str, Any], index: int) -> Dict[str, Any]:
        where = f"topology.nodes[{index}]"
        name = _required(spec, "name", where)
        return {
            "name": name,
            "pool": spec.get("pool", "default-pool"),
            "cpu": parse_cpu(spec.get("cpu", 8)),
            "memory": parse_bytes(spec.get("memory", "32Gi")),
            "disk": parse_bytes(spec.get("disk", "100Gi")),
            "disk_used": parse_bytes(spec.get("disk_used", "30Gi")),
            "system_memory": parse_bytes(spec.get("system_memory", "1Gi")),
            "labels": dict(spec.get("labels") or {}),
            "zone": spec.get("zone", "europe-west1-b"),
        }

    @staticmethod
    def _service(spec: Dict[str, Any], index: int) -> Dict[str, Any]:
        where = f"topology.services[{index}]"
        name = _required(spec, "name", where)
        versions_raw = spec.get("versions") or {}
        deploys = [{"version": str(d["version"]), "at": parse_duration(d.get("at", "-7d"))}
                   for d in spec.get("deploys") or []]
        if not deploys:
            first = next(iter(versions_raw), "v1.0.0")
            deploys = [{"version": str(first), "at": -7 * 86400.0}]
        deploys.sort(key=lambda d: d["at"])
        versions = {}
        for version in set(list(versions_raw) + [d["version"] for d in deploys]):
            versions[str(version)] = _version_profile(versions_raw.get(version) or {},
                                                      f"{where}.versions.{version}")
        requests = spec.get("requests") or {}
        limits = spec.get("limits") or {}
        traffic = dict(_TRAFFIC_DEFAULTS)
        traffic.update(spec.get("traffic") or {})
        pool = spec.get("db_pool")
        return {
            "name": name,
            "namespace": spec.get("namespace", "production"),
            "replicas": int(spec.get("replicas", 2)),
            "image": spec.get("image", f"registry.local/{name}"),
            "priority_class": spec.get("priority_class", ""),
            "priority": int(spec.get("priority", 0)),
            "requests": {"cpu": parse_cpu(requests.get("cpu", "100m")),
                         "memory": parse_bytes(requests.get("memory", "256Mi"))},
            "limits": {"cpu": parse_cpu(limits["cpu"]) if "cpu" in limits else None,
                       "memory": parse_bytes(limits["memory"]) if "memory" in limits else None},
            "depends_on": [str(d) for d in spec.get("depends_on") or []],
            "traffic": {k: float(v) for k, v in traffic.items()},
            "db_pool": None if not pool else {
                "max": int(pool.get("max", 10)), "query_ms": float(pool.get("query_ms", 20)),
                "configmap": str(pool.get("configmap") or f"{name}-db-pool"),
                "key": str(pool.get("key") or "maximumPoolSize")},
            "hpa": spec.get("hpa"),
            "pdb": spec.get("pdb"),
            "node_selector": dict(spec.get("node_selector") or {}),
            "disk_write_per_min": parse_bytes(spec.get("disk_write_per_min", 0)),
            "versions": versions,
            "deploys": deploys,
            "labels": dict(spec.get("labels") or {}),
            "kind": spec.get("kind", "Deployment"),
        }

    @staticmethod
    def _certificate(spec: Dict[str, Any], index: int) -> Dict[str, Any]:
        where = f"topology.certificates[{index}]"
        return {"name": _required(spec, "name", where),
                "namespace": spec.get("namespace", "production"),
                "issuer": spec.get("issuer", "letsencrypt-prod"),
                "expires_in": parse_duration(spec.get("expires_in", "60d")),
                "renews": bool(spec.get("renews", False))}

    @staticmethod
    def _fault(spec: Dict[str, Any], index: int) -> Dict[str, Any]:
        where = f"faults[{index}]"
        fault = dict(spec)
        fault["type"] = _required(spec, "type", where)
        fault["at"] = parse_duration(spec.get("at", 0))
        fault["until"] = parse_duration(spec["until"]) if "until" in spec else None
        fault["ramp"] = parse_duration(spec.get("ramp", 0))
        known = ("latency", "errors", "cpu_demand", "memory_spike", "disk_fill", "disk_free",
                 "node_not_ready", "db_slow", "connection_leak", "deploy", "drain", "scale",
                 "label")
        if fault["type"] not in known:
            raise ScenarioError(f"{where}.type: unknown {fault['type']!r}; known: {known}")
        for key in ("bytes", "rate_per_min"):
            if key in fault:
                fault[key] = parse_bytes(fault[key])
        return fault

    @staticmethod
    def _infra(spec: Dict[str, Any], index: int) -> Dict[str, Any]:
        where = f"infra_faults[{index}]"
        target = _required(spec, "target", where)
        if target not in ("api", "prometheus", "nats"):
            raise ScenarioError(f"{where}.target: must be api, prometheus or nats")
        out = dict(spec)
        out["at"] = parse_duration(spec.get("at", 0))
        out["until"] = parse_duration(spec["until"]) if "until" in spec else None
        out["params"] = dict(spec.get("params") or {})
        return out

    @staticmethod
    def _ground_truth(spec: Dict[str, Any]) -> Dict[str, Any]:
        kind = _required(spec, "kind", "ground_truth")
        if kind not in ("fault", "benign"):
            raise ScenarioError("ground_truth.kind: must be fault or benign")
        outcome = spec.get("expected_outcome", "none" if kind == "benign" else "remediate")
        if outcome not in OUTCOMES:
            raise ScenarioError(f"ground_truth.expected_outcome: must be one of {OUTCOMES}")
        root = spec.get("root_cause")
        causes = spec.get("root_causes") or ([root] if root else [])
        if kind == "fault" and not causes:
            raise ScenarioError("ground_truth.root_cause: required for a fault")
        for cause in causes:
            if cause.get("detector") not in DETECTORS:
                raise ScenarioError(f"ground_truth.root_cause.detector: unknown "
                                    f"{cause.get('detector')!r}")
            target = cause.get("target") or {}
            if not target.get("kind") or not target.get("name"):
                raise ScenarioError("ground_truth.root_cause.target: kind and name required")
        out = dict(spec)
        out["kind"] = kind
        out["expected_outcome"] = outcome
        out["root_cause"] = causes[0] if causes else None
        out["root_causes"] = causes
        out["acceptable_remediations"] = list(spec.get("acceptable_remediations") or [])
        recovery = spec.get("recovery")
        if recovery:
            recovery = dict(recovery)
            recovery["hold_s"] = parse_duration(recovery.get("hold", "2m"))
            for key in ("query", "comparator", "threshold"):
                if key not in recovery:
                    raise ScenarioError(f"ground_truth.recovery.{key}: required")
        out["recovery"] = recovery
        return out

    def service(self, name: str) -> Optional[Dict[str, Any]]:
        for svc in self.services:
            if svc["name"] == name:
                return svc
        return None


def _version_profile(spec: Dict[str, Any], where: str) -> Dict[str, Any]:
    memory = dict(_MEMORY_DEFAULTS)
    memory.update(spec.get("memory") or {})
    crash = spec.get("crash")
    return {
        "memory": {
            "baseline": parse_bytes(memory["baseline"]),
            "warmup": parse_bytes(memory["warmup"]),
            "warmup_tau": parse_duration(memory["warmup_tau"]),
            "leak_per_min": parse_bytes(memory["leak_per_min"]),
            "leak_scales_with_load": bool(memory["leak_scales_with_load"]),
            "jitter": float(memory["jitter"]),
        },
        "cpu_factor": float(spec.get("cpu_factor", 1.0)),
        "latency_factor": float(spec.get("latency_factor", 1.0)),
        "error_ratio": spec.get("error_ratio"),
        "startup": parse_duration(spec.get("startup", "10s")),
        "crash": None if not crash else {
            "after": parse_duration(crash.get("after", "5s")),
            "exit_code": int(crash.get("exit_code", 1)),
            "reason": crash.get("reason", "Error"),
            "log": crash.get("log", "panic: runtime error"),
            "times": int(crash["times"]) if crash.get("times") is not None else None,
        },
        "leak_log": spec.get("leak_log", ""),
    }


def _expand_nodes(topology: Dict[str, Any]) -> List[Dict[str, Any]]:
    out = []
    for spec in topology.get("nodes") or []:
        count = int(spec.get("count", 1))
        if count == 1 and spec.get("name"):
            out.append(spec)
            continue
        prefix = spec.get("name_prefix") or (spec.get("pool", "node") + "-")
        for i in range(count):
            item = dict(spec)
            item["name"] = f"{prefix}{i}"
            out.append(item)
    return out


def _required(spec: Dict[str, Any], key: str, where: str = "") -> Any:
    if not isinstance(spec, dict) or key not in spec or spec[key] in (None, ""):
        raise ScenarioError(f"{where + '.' if where else ''}{key}: required")
    return spec[key]


def scenario_path(name_or_path: str) -> str:
    """Resolve a scenario name (file stem in scenarios/) or a path."""
    if os.path.exists(name_or_path):
        return name_or_path
    for ext in (".yaml", ".yml"):
        candidate = os.path.join(SCENARIO_DIR, name_or_path + ext)
        if os.path.exists(candidate):
            return candidate
    raise ScenarioError(f"no scenario {name_or_path!r} (looked in {SCENARIO_DIR})")


def load_scenario(name_or_path: str) -> Scenario:
    """Read and validate one scenario file."""
    path = scenario_path(name_or_path)
    with open(path) as handle:
        raw = yaml.safe_load(handle)
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: not a mapping")
    try:
        return Scenario(raw, path)
    except ScenarioError as exc:
        raise ScenarioError(f"{os.path.basename(path)}: {exc}") from None


def list_scenarios() -> List[str]:
    """Names of the shipped scenarios."""
    return sorted(f.rsplit(".", 1)[0] for f in os.listdir(SCENARIO_DIR)
                  if f.endswith((".yaml", ".yml")))

"""Workload physics and the kubelet: what happens on the nodes each virtual step.

`Physics(scenario, store).step(now, dt)` reads cluster state from the store (pods, nodes,
deployments, ConfigMaps, DestinationRules, Certificates), advances every container
(memory, CPU, restarts with CrashLoopBackOff back-off, OOMKill), writes pod/node status back to
the store on transitions, and returns the step's samples as (SeriesKey, value) pairs under the
exporters' metric names (docs/design.md). Remediations act only through cluster state: a pod
whose image is a non-leaking version does not leak, a restarted pod starts at baseline, a larger
pool ConfigMap (`<service>-db-pool` unless the scenario names another) relieves pool exhaustion,
a DestinationRule with outlierDetection towards an upstream sheds its slowness and errors from
the dependents in that namespace, an HPA or a scale-up spreads load over more pods.

The package, one module per part of the model: `kubelet` (containers, pod status), `nodes`
(readiness, pressure), `services` (traffic, upstreams, pools, CPU), `exporters` (cAdvisor,
kube-state-metrics, certificates), `mesh` (HTTP request series), `signals` (series keys,
noise, curves). `Physics` composes them and runs one step.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from twin.model.exporters import Exporters
from twin.model.kubelet import BACKOFF_MAX_S, BACKOFF_RESET_S, KubeletModel, PodState
from twin.model.mesh import MeshExporters
from twin.model.nodes import (
    DISK_PRESSURE_AVAIL,
    MEMORY_PRESSURE_AVAIL,
    NOT_READY_EVICT_S,
    NodeModel,
)
from twin.model.services import ServiceModel
from twin.model.signals import LATENCY_BUCKETS_MS, _interp, series_key, throttle_ratio
from twin.promwrite import SeriesKey
from twin.scenario import Scenario

__all__ = ["BACKOFF_MAX_S", "BACKOFF_RESET_S", "DISK_PRESSURE_AVAIL", "LATENCY_BUCKETS_MS",
           "MEMORY_PRESSURE_AVAIL", "NOT_READY_EVICT_S", "Physics", "PodState", "series_key",
           "throttle_ratio"]


_DEFAULT_PROFILE = {
    "memory": {"baseline": 128 * 1024 ** 2, "warmup": 0.0, "warmup_tau": 300.0,
               "leak_per_min": 0.0, "leak_scales_with_load": False, "jitter": 0.05},
    "cpu_factor": 1.0, "latency_factor": 1.0, "error_ratio": None, "startup": 10.0,
    "crash": None, "leak_log": "",
}
_DEFAULT_TRAFFIC = {"rps": 0.0, "p50_ms": 20.0, "p99_ms": 80.0, "error_ratio": 0.0,
                    "base_cpu": 0.02, "cpu_per_rps": 0.0}


class Physics(KubeletModel, NodeModel, ServiceModel, Exporters, MeshExporters):
    """The kubelet + workload model over one store (see module docstring)."""

    def __init__(self, scenario: Optional[Scenario], store: Any, onset: float = 0.0,
                 seed: int = 0, emit_istio: bool = True) -> None:
        self.scenario = scenario
        self.store = store
        self.onset = onset
        self.seed = seed
        self.emit_istio = emit_istio  # emit the HTTP request metrics at all
        metrics = getattr(scenario, "metrics", None) or {}
        self.http_metrics = metrics.get("http", "istio")
        self.pool_metrics = metrics.get("pool", "hikaricp")
        self.lean = False  # scale worlds: only the series the node/pod detectors need
        self.pods: Dict[str, PodState] = {}
        self.services = {s["name"]: s for s in (scenario.services if scenario else [])}
        self.node_specs = {n["name"]: n for n in (scenario.nodes if scenario else [])}
        self.faults = list(scenario.faults) if scenario else []
        self.load_curves = scenario.load if scenario else {}
        self.node_fill: Dict[str, float] = {}
        self.node_down_since: Dict[str, float] = {}
        self.node_conditions: Dict[str, Dict[str, str]] = {}
        self.counters: Dict[SeriesKey, float] = {}
        self.snapshot: Dict[str, Any] = {}
        self._profile_cache: Dict[Tuple[str, str], Dict[str, Any]] = {}
        self._info_keys: Dict[str, Tuple[str, SeriesKey]] = {}

    # ------------------------------------------------------------------ helpers
    def rel(self, now: float) -> float:
        """Seconds since the onset (negative before)."""
        return now - self.onset

    def active_faults(self, now: float, ftype: str) -> List[Tuple[Dict[str, Any], float]]:
        """(fault, strength 0..1 with ramp) for faults of `ftype` active at `now`."""
        t = self.rel(now)
        out = []
        for fault in self.faults:
            if fault["type"] != ftype or t < fault["at"]:
                continue
            if fault["until"] is not None and t >= fault["until"]:
                continue
            ramp = fault.get("ramp") or 0.0
            out.append((fault, min(1.0, (t - fault["at"]) / ramp) if ramp else 1.0))
        return out

    def load(self, service: str, now: float) -> float:
        t = self.rel(now)
        value = _interp(self.load_curves.get(service, []), t)
        if "*" in self.load_curves:
            value *= _interp(self.load_curves["*"], t)
        return value

    def profile(self, service: str, version: str) -> Dict[str, Any]:
        key = (service, version)
        cached = self._profile_cache.get(key)
        if cached is None:
            svc = self.services.get(service)
            cached = (svc["versions"].get(version) if svc else None) or _DEFAULT_PROFILE
            self._profile_cache[key] = cached
        return cached

    def traffic(self, service: str) -> Dict[str, float]:
        svc = self.services.get(service)
        return svc["traffic"] if svc else _DEFAULT_TRAFFIC

    # ------------------------------------------------------------------ step
    def step(self, now: float, dt: float) -> List[Tuple[SeriesKey, float]]:
        store = self.store
        nodes, _ = store.list("nodes", copy=False)
        pods, _ = store.list("pods", copy=False)
        node_ready = self._node_readiness(nodes, now)
        seen = set()
        by_service: Dict[str, List[PodState]] = {}
        for pod in pods:
            st = self._track(pod, now)
            if st is None:
                continue
            seen.add(st.uid)
            if not st.node:
                continue
            if not node_ready.get(st.node, False):
                if st.ready:  # the node controller marks pods on an unreachable node unready
                    st.ready = False
                    st.dirty = True
                continue
            if pod["metadata"].get("deletionTimestamp"):
                if st.ready:  # Terminating: out of the endpoints, no restarts, still running
                    st.ready = False
                    st.dirty = True
            else:
                self._advance_container(st, pod, now)
            if st.state in ("running", "waiting"):
                by_service.setdefault(st.service, []).append(st)
        for uid in [u for u in self.pods if u not in seen]:
            del self.pods[uid]
        samples: List[Tuple[SeriesKey, float]] = []
        service_view = self._services(by_service, now, dt)
        self._containers(by_service, service_view, now, dt, samples)
        self._nodes(nodes, node_ready, now, dt, samples)
        self._kube_state(pods, node_ready, samples)
        if self.emit_istio and self.http_metrics != "none":
            self._http(service_view, dt, samples)
        self._certificates(samples)
        self._flush_status(now)
        self.snapshot = {"services": service_view, "now": now}
        return samples

    # ------------------------------------------------------------------ views
    def node_memory_pct(self, node: str) -> float:
        return getattr(self, "snapshot_nodes", {}).get(node, {}).get("mem_pct", float("nan"))

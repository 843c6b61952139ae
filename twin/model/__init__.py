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
"""
from __future__ import annotations

import math
import zlib
from typing import Any, Dict, List, Optional, Tuple

from twin.clock import iso
from twin.controllers import parse_quantity, record_event
from twin.promwrite import SeriesKey
from twin.promwrite import series_key as _series_key
from twin.scenario import Scenario

LATENCY_BUCKETS_MS = (0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
                      60000, 300000, 600000, 1800000, 3600000)
_BUCKET_LABELS = [repr(float(b)) if b != int(b) else str(int(b)) for b in LATENCY_BUCKETS_MS]
_SECONDS_LABELS = [repr(b / 1000.0) for b in LATENCY_BUCKETS_MS]  # the same bounds in s
BACKOFF_MAX_S = 300.0
BACKOFF_RESET_S = 600.0
NOT_READY_EVICT_S = 300.0
MEMORY_PRESSURE_AVAIL = 0.05
DISK_PRESSURE_AVAIL = 0.10
_DEFAULT_PROFILE = {
    "memory": {"baseline": 128 * 1024 ** 2, "warmup": 0.0, "warmup_tau": 300.0,
               "leak_per_min": 0.0, "leak_scales_with_load": False, "jitter": 0.05},
    "cpu_factor": 1.0, "latency_factor": 1.0, "error_ratio": None, "startup": 10.0,
    "crash": None, "leak_log": "",
}
_DEFAULT_TRAFFIC = {"rps": 0.0, "p50_ms": 20.0, "p99_ms": 80.0, "error_ratio": 0.0,
                    "base_cpu": 0.02, "cpu_per_rps": 0.0}


_KEY_CACHE: Dict[Any, SeriesKey] = {}


def series_key(name: str, labels: Dict[str, str]) -> SeriesKey:
    """Cached `twin.promwrite.series_key` (the same label sets recur every step)."""
    cache_key = (name, tuple(labels.items()))
    key = _KEY_CACHE.get(cache_key)
    if key is None:
        if len(_KEY_CACHE) > 2_000_000:
            _KEY_CACHE.clear()
        key = _series_key(name, labels)
        _KEY_CACHE[cache_key] = key
    return key


def _fast_noise(seed_bytes: bytes, tick: int) -> float:
    """Deterministic pseudo-random number in [0, 1) for (pod, tick); one C call."""
    return (zlib.crc32(seed_bytes, tick & 0xFFFFFFFF) & 0xFFFFFF) / float(0x1000000)


def _unit_noise(*parts: Any) -> float:
    """Deterministic pseudo-random number in [0, 1) from the given parts."""
    return (zlib.crc32("|".join(str(p) for p in parts).encode()) & 0xFFFFFF) / float(0x1000000)


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _interp(points: List[Tuple[float, float]], t: float) -> float:
    if not points:
        return 1.0
    if t <= points[0][0]:
        return points[0][1]
    for (t0, v0), (t1, v1) in zip(points, points[1:]):
        if t <= t1:
            return v0 if t1 == t0 else v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    return points[-1][1]


def throttle_ratio(demand: float, limit: Optional[float]) -> float:
    """Share of CFS periods throttled for a CPU demand against a limit (cores)."""
    if not limit or demand <= 0:
        return 0.0
    load = demand / limit
    if load <= 0.6:
        return 0.005 * load
    return min(0.95, 0.003 + (load - 0.6) * 0.9)


class PodState:
    """What the kubelet knows about one pod's main container."""

    __slots__ = ("uid", "namespace", "name", "service", "container", "version", "node",
                 "created", "state", "container_start", "ready", "restarts", "streak",
                 "waiting_until", "last_term", "leak", "jitter", "cpu_s", "periods",
                 "throttled", "disk_bytes", "leaked_conns", "mem", "cpu_usage", "throttle",
                 "dirty", "logged_at", "container_id", "keys", "keys_node", "noise_seed",
                 "baseline")

    def __init__(self, pod: Dict[str, Any], service: str, container: str, version: str,
                 jitter: float) -> None:
        md = pod["metadata"]
        self.uid = md["uid"]
        self.namespace = md["namespace"]
        self.name = md["name"]
        self.service = service
        self.container = container
        self.version = version
        self.node = pod["spec"].get("nodeName", "")
        self.created = 0.0
        self.state = "new"
        self.container_start = 0.0
        self.ready = False
        self.restarts = 0
        self.streak = 0
        self.waiting_until = 0.0
        self.last_term: Optional[Dict[str, Any]] = None
        self.leak = 0.0
        self.jitter = jitter
        self.cpu_s = 0.0
        self.periods = 0.0
        self.throttled = 0.0
        self.disk_bytes = 0.0
        self.leaked_conns = 0.0
        self.mem = 0.0
        self.cpu_usage = 0.0
        self.throttle = 0.0
        self.dirty = True
        self.logged_at = 0.0
        self.container_id = ""
        self.keys: Dict[str, Any] = {}
        self.keys_node = None
        self.noise_seed = md["name"].encode()
        self.baseline = 0.0  # working set of a workload the scenario does not describe


class Physics:
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

    # ------------------------------------------------------------------ kubelet
    def _track(self, pod: Dict[str, Any], now: float) -> Optional[PodState]:
        md = pod["metadata"]
        st = self.pods.get(md["uid"])
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            return None
        if st is None:
            containers = pod["spec"].get("containers") or [{}]
            main = containers[0]
            image = main.get("image", "")
            version = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else "latest"
            service = (md.get("labels") or {}).get("app") or md["name"].rsplit("-", 2)[0]
            jitter = 1.0 + (2 * _unit_noise(self.seed, md["name"]) - 1) * \
                self.profile(service, version)["memory"]["jitter"]
            st = PodState(pod, service, main.get("name", service), version, jitter)
            if service not in self.services:  # e.g. a DaemonSet or static pod: its request
                st.baseline = parse_quantity(((main.get("resources") or {}).get(
                    "requests") or {}).get("memory"))
            st.created = now
            self.pods[st.uid] = st
        st.node = pod["spec"].get("nodeName", "") or ""
        return st

    def _start_container(self, st: PodState, at: float) -> None:
        st.state = "running"
        st.container_start = at
        st.ready = False
        st.leak = 0.0
        st.leaked_conns = 0.0
        st.container_id = "containerd://%016x%016x" % (
            zlib.crc32(f"{st.uid}{st.restarts}".encode()), zlib.crc32(st.name.encode()))
        st.dirty = True
        self.store_log(st, f"{iso(at)} INFO starting {st.service} {st.version}")

    def _terminate(self, st: PodState, at: float, reason: str, exit_code: int,
                   message: str = "") -> None:
        if message:
            self.store_log(st, message)
        st.last_term = {"reason": reason, "exitCode": exit_code,
                        "startedAt": iso(st.container_start), "finishedAt": iso(at),
                        "containerID": st.container_id}
        st.restarts += 1
        if at - st.container_start >= BACKOFF_RESET_S:
            st.streak = 0
        st.streak += 1
        delay = 0.0 if st.streak == 1 else min(BACKOFF_MAX_S, 10.0 * 2 ** (st.streak - 2))
        st.state = "waiting"
        st.ready = False
        st.waiting_until = at + delay
        st.dirty = True
        if reason == "OOMKilled":
            self._pod_event(st, "OOMKilled", f"Container {st.container} was OOM-killed "
                            f"(exit code 137)", "Warning", at)
        if delay > 0:
            self._pod_event(st, "BackOff", f"Back-off restarting failed container "
                            f"{st.container} in pod {st.name}_{st.namespace}({st.uid})",
                            "Warning", at)
        try:
            self.store.rotate_log(st.namespace, st.name, st.container)
        except Exception:  # noqa: BLE001 - the pod may have been deleted meanwhile
            pass

    def _advance_container(self, st: PodState, pod: Dict[str, Any], now: float) -> None:
        profile = self.profile(st.service, st.version)
        if st.state == "new":
            self._start_container(st, now)
        for _ in range(12):
            if st.state == "waiting" and st.waiting_until <= now:
                self._start_container(st, max(st.waiting_until, now - 15.0))
                continue
            crash = profile["crash"]
            if st.state == "running" and crash and \
                    (crash["times"] is None or st.restarts < crash["times"]) and \
                    now >= st.container_start + crash["after"]:
                self._terminate(st, st.container_start + crash["after"], crash["reason"],
                                crash["exit_code"], crash["log"])
                continue
            break
        if st.state == "running" and not st.ready and \
                now >= st.container_start + profile["startup"]:
            st.ready = True
            st.dirty = True

    def _pod_event(self, st: PodState, reason: str, message: str, etype: str,
                   at: float) -> None:
        """A kubelet Event about the pod (skipped in lean scale worlds)."""
        if self.lean:
            return
        try:
            pod = self.store.get_entry("pods", st.namespace, st.name).obj
            record_event(self.store, pod, reason, message, etype, "kubelet", at)
        except Exception:  # noqa: BLE001 - pod deleted meanwhile
            pass

    def store_log(self, st: PodState, text: str) -> None:
        try:
            self.store.append_log(st.namespace, st.name, text + "\n", container=st.container)
        except Exception:  # noqa: BLE001 - pod deleted between list and log
            pass

    def _flush_status(self, now: float) -> None:
        for st in self.pods.values():
            if not st.dirty:
                continue
            if not st.node or st.state == "new":
                continue  # unscheduled or not started: the scheduler owns the status (Pending)
            st.dirty = False
            try:
                self.store.mutate("pods", st.namespace, st.name,
                                  lambda obj, st=st: self._write_pod_status(obj, st, now))
            except Exception:  # noqa: BLE001 - deleted meanwhile
                continue

    def _write_pod_status(self, pod: Dict[str, Any], st: PodState, now: float) -> None:
        status = pod.setdefault("status", {})
        spec = pod.get("spec") or {}
        main = (spec.get("containers") or [{}])[0]
        stamp = iso(now)
        if st.state == "running":
            state = {"running": {"startedAt": iso(st.container_start)}}
        else:
            backoff = max(0, int(st.waiting_until - st.container_start))
            state = {"waiting": {"reason": "CrashLoopBackOff",
                                 "message": f"back-off {backoff}s restarting failed container"
                                            f"={st.container} pod={st.name}_{st.namespace}"
                                            f"({st.uid})"}}
        cstatus = {"name": st.container, "image": main.get("image", ""),
                   "imageID": main.get("image", "") + "@sha256:" + "%08x" % zlib.crc32(
                       main.get("image", "").encode()) * 8,
                   "containerID": st.container_id, "ready": st.ready,
                   "started": st.state == "running", "restartCount": st.restarts,
                   "state": state,
                   "lastState": {"terminated": dict(st.last_term)} if st.last_term else {}}
        extra = [{"name": c.get("name"), "image": c.get("image", ""), "ready": True,
                  "started": True, "restartCount": 0, "lastState": {},
                  "state": {"running": {"startedAt": iso(st.created)}}}
                 for c in (spec.get("containers") or [])[1:]]
        ready = "True" if st.ready else "False"

        def cond(kind: str, value: str) -> Dict[str, Any]:
            for old in status.get("conditions") or []:
                if old.get("type") == kind and old.get("status") == value:
                    return old
            return {"type": kind, "status": value, "lastProbeTime": None,
                    "lastTransitionTime": stamp}

        status.update({
            "phase": "Running",
            "hostIP": "10.128.0.%d" % (zlib.crc32(st.node.encode()) % 250 + 2),
            "podIP": "10.%d.%d.%d" % (8 + zlib.crc32(st.node.encode()) % 8,
                                      zlib.crc32(st.uid.encode()) % 250,
                                      zlib.crc32(st.name.encode()) % 250 + 2),
            "startTime": status.get("startTime") or iso(st.created),
            "qosClass": status.get("qosClass") or _qos(main),
            "conditions": [cond("Initialized", "True"), cond("Ready", ready),
                           cond("ContainersReady", ready), cond("PodScheduled", "True")],
            "containerStatuses": [cstatus] + extra,
        })

    # ------------------------------------------------------------------ nodes
    def _node_readiness(self, nodes: List[Dict[str, Any]], now: float) -> Dict[str, bool]:
        down = {f["node"] for f, _ in self.active_faults(now, "node_not_ready")}
        ready = {}
        for node in nodes:
            name = node["metadata"]["name"]
            is_down = name in down
            ready[name] = not is_down
            if is_down:
                since = self.node_down_since.setdefault(name, now)
                if now - since >= NOT_READY_EVICT_S:
                    self._evict_unreachable(name)
            else:
                self.node_down_since.pop(name, None)
        return ready

    def _evict_unreachable(self, node: str) -> None:
        """The taint manager: pods on an unreachable node are deleted after 300 s."""
        for pod in list(self.store.pods_on_node(node)):
            md = pod["metadata"]
            try:
                self.store.delete("pods", md["namespace"], md["name"])
            except Exception:  # noqa: BLE001 - already gone
                continue

    def _nodes(self, nodes: List[Dict[str, Any]], node_ready: Dict[str, bool], now: float,
               dt: float, samples: List[Tuple[SeriesKey, float]]) -> None:
        pods_by_node: Dict[str, List[PodState]] = {}
        for st in self.pods.values():
            if st.node:
                pods_by_node.setdefault(st.node, []).append(st)
        fills = self.active_faults(now, "disk_fill")
        frees = self.active_faults(now, "disk_free")
        spikes = self.active_faults(now, "memory_spike")
        view = {}
        for node in nodes:
            name = node["metadata"]["name"]
            spec = self.node_specs.get(name) or self._pool_spec(node)
            total = spec["memory"]
            used = spec["system_memory"]
            for fault, strength in spikes:
                if fault.get("node") == name and not fault.get("service"):
                    used += fault.get("bytes", 0.0) * strength
            on_node = [st for st in pods_by_node.get(name, ()) if st.state == "running"]
            used += sum(st.mem for st in on_node)
            if node_ready[name] and used > total * 0.995 and on_node:
                victim = max(on_node, key=lambda s: s.mem)
                self._terminate(victim, now, "OOMKilled", 137)
                used -= victim.mem
                victim.mem = 0.0
            fill = self.node_fill.get(name, 0.0)
            for fault, _ in fills:
                if fault.get("node") == name and not fault.get("service"):
                    fill += fault.get("rate_per_min", 0.0) * dt / 60.0
            for fault, _ in frees:
                if fault.get("node") == name and not fault.get("done"):
                    fill = max(0.0, fill - fault.get("bytes", fill))
                    fault["done"] = True
            self.node_fill[name] = fill
            disk_used = spec["disk_used"] + fill + sum(
                st.disk_bytes for st in pods_by_node.get(name, ()))
            disk_avail = max(0.0, spec["disk"] - disk_used)
            mem_avail = max(total * 0.002, total - used)
            view[name] = {"mem_pct": 100.0 * (1 - mem_avail / total),
                          "disk_avail_pct": 100.0 * disk_avail / spec["disk"],
                          "ready": node_ready[name]}
            conditions = {
                "Ready": "True" if node_ready[name] else "Unknown",
                "MemoryPressure": "Unknown" if not node_ready[name] else (
                    "True" if mem_avail < total * MEMORY_PRESSURE_AVAIL else "False"),
                "DiskPressure": "Unknown" if not node_ready[name] else (
                    "True" if disk_avail < spec["disk"] * DISK_PRESSURE_AVAIL else "False"),
                "PIDPressure": "Unknown" if not node_ready[name] else "False",
            }
            if conditions != self.node_conditions.get(name):
                self._write_node_conditions(name, conditions, now)
                self.node_conditions[name] = conditions
            unschedulable = 1.0 if (node.get("spec") or {}).get("unschedulable") else 0.0
            samples.append((series_key("kube_node_spec_unschedulable", {"node": name}),
                            unschedulable))
            for cond_type, value in conditions.items():
                for status in ("true", "false", "unknown"):
                    samples.append((series_key("kube_node_status_condition", {
                        "node": name, "condition": cond_type, "status": status}),
                        1.0 if value.lower() == status else 0.0))
            for resource, unit, amount in (("memory", "byte", total),
                                           ("cpu", "core", spec["cpu"])):
                samples.append((series_key("kube_node_status_allocatable", {
                    "node": name, "resource": resource, "unit": unit}), amount))
            if not node_ready[name]:
                continue
            labels = {"instance": name, "node": name}
            samples.append((series_key("node_memory_MemTotal_bytes", labels), total))
            samples.append((series_key("node_memory_MemAvailable_bytes", labels), mem_avail))
            fs = dict(labels, mountpoint="/", fstype="ext4", device="/dev/sda1")
            samples.append((series_key("node_filesystem_avail_bytes", fs), disk_avail))
            samples.append((series_key("node_filesystem_size_bytes", fs), spec["disk"]))
        self.snapshot_nodes = view

    def _write_node_conditions(self, name: str, conditions: Dict[str, str], now: float) -> None:
        stamp = iso(now)
        reasons = {
            ("Ready", "True"): ("KubeletReady", "kubelet is posting ready status"),
            ("Ready", "Unknown"): ("NodeStatusUnknown", "Kubelet stopped posting node status."),
            ("MemoryPressure", "True"): ("KubeletHasInsufficientMemory",
                                         "kubelet has insufficient memory available"),
            ("MemoryPressure", "False"): ("KubeletHasSufficientMemory",
                                          "kubelet has sufficient memory available"),
            ("DiskPressure", "True"): ("KubeletHasDiskPressure", "kubelet has disk pressure"),
            ("DiskPressure", "False"): ("KubeletHasNoDiskPressure",
                                        "kubelet has no disk pressure"),
            ("PIDPressure", "False"): ("KubeletHasSufficientPID",
                                       "kubelet has sufficient PID available"),
        }

        def fn(node: Dict[str, Any]) -> None:
            status = node.setdefault("status", {})
            old = {c.get("type"): c for c in status.get("conditions") or []}
            new = []
            for kind, value in conditions.items():
                previous = old.get(kind)
                reason, message = reasons.get((kind, value), ("NodeStatusUnknown",
                                                              "Kubelet stopped posting node "
                                                              "status."))
                changed = previous is None or previous.get("status") != value
                new.append({"type": kind, "status": value, "reason": reason,
                            "message": message,
                            "lastHeartbeatTime": stamp if value != "Unknown" or changed
                            else previous.get("lastHeartbeatTime", stamp),
                            "lastTransitionTime": stamp if changed
                            else previous.get("lastTransitionTime", stamp)})
            status["conditions"] = new
            spec = node.setdefault("spec", {})
            taints = [t for t in spec.get("taints") or [] if not t.get("key", "").startswith(
                "node.kubernetes.io/unreachable")]
            if conditions["Ready"] != "True":
                taints += [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule",
                            "timeAdded": stamp},
                           {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute",
                            "timeAdded": stamp}]
            if taints:
                spec["taints"] = taints
            else:
                spec.pop("taints", None)

        try:
            self.store.mutate("nodes", None, name, fn)
        except Exception:  # noqa: BLE001 - node removed meanwhile
            pass

    # ------------------------------------------------------------------ services
    def _services(self, by_service: Dict[str, List[PodState]], now: float,
                  dt: float) -> Dict[str, Dict[str, Any]]:
        names = set(self.services) | set(by_service)
        dependents: Dict[str, List[str]] = {}
        for name in names:
            for up in self._upstreams(name):
                dependents.setdefault(up, []).append(name)
        rps: Dict[str, float] = {}

        def total_rps(name: str, depth: int = 0) -> float:
            if name in rps:
                return rps[name]
            value = self.traffic(name)["rps"] * self.load(name, now)
            if depth < 20:
                value += sum(total_rps(d, depth + 1) for d in dependents.get(name, ()))
            rps[name] = value
            return value

        view: Dict[str, Dict[str, Any]] = {}
        for name in names:
            pods = by_service.get(name, [])
            ready = [st for st in pods if st.state == "running" and st.ready]
            view[name] = {"rps": total_rps(name), "pods": pods, "ready": len(ready),
                          "ext_rps": self.traffic(name)["rps"] * self.load(name, now),
                          "dependents": dependents.get(name, [])}
        self._pool_and_cpu(view, now, dt)
        shed = self._circuit_breakers()
        done: Dict[str, Tuple[float, float, float]] = {}

        def effective(name: str, depth: int = 0) -> Tuple[float, float, float]:
            if name in done:
                return done[name]
            item = view.get(name)
            p50, p99, err = item["own"] if item else (20.0, 80.0, 0.0)
            base50, base99 = p50, p99
            upstream_err = 0.0
            if depth < 20:
                for up in self._upstreams(name):
                    if up not in view:
                        continue
                    u50, u99, uerr = effective(up, depth + 1)
                    namespace = item["namespace"] if item else ""
                    if (namespace, name, up) in shed or (namespace, "*", up) in shed:
                        b50, b99, _ = view[up]["baseline"]
                        u50, u99, uerr = min(u50, b50), min(u99, b99), 0.0
                    p50 += u50
                    p99 += u99
                    upstream_err = 1 - (1 - upstream_err) * (1 - uerr)
            total_err = 1 - (1 - err) * (1 - upstream_err)
            done[name] = (p50, p99, total_err)
            if item is not None:
                item["base_eff"] = (base50, base99)
                item["upstream_err"] = upstream_err
            return done[name]

        for name in names:
            p50, p99, err = effective(name)
            view[name].update({"p50": p50, "p99": p99, "error_ratio": err})
        return view

    def _upstreams(self, name: str) -> List[str]:
        svc = self.services.get(name)
        return svc["depends_on"] if svc else []

    def _circuit_breakers(self) -> Dict[Tuple[str, str, str], bool]:
        """(namespace, dependent or "*", upstream) shed by a DestinationRule.

        A rule sheds when its trafficPolicy has outlierDetection (or connectionPool); it
        applies to the workloads its `workloadSelector` (label app) picks, else to the whole
        namespace. The host's first label is the upstream service.
        """
        shed: Dict[Tuple[str, str, str], bool] = {}
        try:
            rules, _ = self.store.list("destinationrules", copy=False)
        except Exception:  # noqa: BLE001 - resource not served
            return shed
        for rule in rules:
            spec = rule.get("spec") or {}
            policy = spec.get("trafficPolicy") or {}
            if not policy.get("outlierDetection") and not policy.get("connectionPool"):
                continue
            host = str(spec.get("host", "")).split(".")[0]
            selector = ((spec.get("workloadSelector") or {}).get("matchLabels") or {})
            who = selector.get("app", "*")
            shed[(rule["metadata"].get("namespace", ""), who, host)] = True
        return shed

    def _pool_and_cpu(self, view: Dict[str, Dict[str, Any]], now: float, dt: float) -> None:
        latency_faults = self.active_faults(now, "latency")
        error_faults = self.active_faults(now, "errors")
        cpu_faults = self.active_faults(now, "cpu_demand")
        db_faults = self.active_faults(now, "db_slow")
        leak_faults = self.active_faults(now, "connection_leak")
        for name, item in view.items():
            svc = self.services.get(name)
            traffic = self.traffic(name)
            item["namespace"] = svc["namespace"] if svc else (
                item["pods"][0].namespace if item["pods"] else "default")
            ready = [st for st in item["pods"] if st.state == "running" and st.ready]
            pod_rps = item["rps"] / max(1, len(ready))
            cpu_factor = 1.0
            for fault, strength in cpu_faults:
                if fault.get("service") == name:
                    cpu_factor *= 1 + (float(fault.get("factor", 2.0)) - 1) * strength
            throttles = []
            for st in item["pods"]:
                profile = self.profile(name, st.version)
                demand = (traffic["base_cpu"] + traffic["cpu_per_rps"] *
                          (pod_rps if st.ready else 0.0)) * profile["cpu_factor"] * cpu_factor
                demand *= 0.97 + 0.06 * _fast_noise(st.noise_seed, int(now // 60))
                limit = svc["limits"]["cpu"] if svc else None
                st.cpu_usage = min(demand, limit) if limit else demand
                st.throttle = throttle_ratio(demand, limit) if st.state == "running" else 0.0
                if st.state == "running":
                    throttles.append(st.throttle)
            avg_throttle = sum(throttles) / len(throttles) if throttles else 0.0
            pool_wait_ms, pool_err = 0.0, 0.0
            item["pool"] = None
            if svc and svc["db_pool"]:
                pool_max = self._pool_max(svc)
                query_ms = svc["db_pool"]["query_ms"]
                for fault, strength in db_faults:
                    if fault.get("service") == name:
                        query_ms += (float(fault.get("query_ms", query_ms * 3)) - query_ms) * \
                            strength
                per_pod = []
                for st in item["pods"]:
                    for fault, _ in leak_faults:
                        if fault.get("service") == name and st.state == "running":
                            st.leaked_conns += float(fault.get("per_min", 1.0)) * dt / 60.0
                    need = (pod_rps * query_ms / 1000.0 if st.ready else 0.0) + st.leaked_conns
                    active = min(float(pool_max), need)
                    pending = max(0.0, need - pool_max) * 4.0
                    per_pod.append((st, active, pending, pool_max))
                item["pool"] = per_pod
                if per_pod:
                    pressure = max(p[2] for p in per_pod) / max(1.0, pool_max)
                    pool_wait_ms = min(30000.0, pressure * 400.0)
                    pool_err = min(0.5, pressure * 0.3)
                    item["pool_util"] = max(p[1] / max(1.0, p[3]) for p in per_pod)
            versions = [st.version for st in ready] or [st.version for st in item["pods"]]
            lat_factor = sum(self.profile(name, v)["latency_factor"] for v in versions) / max(
                1, len(versions))
            err = traffic["error_ratio"]
            version_errs = [self.profile(name, v)["error_ratio"] for v in versions]
            if version_errs and all(e is not None for e in version_errs):
                err = sum(version_errs) / len(version_errs)
            for fault, strength in latency_faults:
                if fault.get("service") == name:
                    lat_factor *= 1 + (float(fault.get("factor", 5.0)) - 1) * strength
            for fault, strength in error_faults:
                if fault.get("service") == name:
                    err = 1 - (1 - err) * (1 - float(fault.get("error_ratio", 0.2)) * strength)
            throttle_factor = 1 + 3 * avg_throttle
            p50 = traffic["p50_ms"] * lat_factor * throttle_factor + pool_wait_ms * 0.5
            p99 = traffic["p99_ms"] * lat_factor * throttle_factor + pool_wait_ms
            err = 1 - (1 - err) * (1 - pool_err)
            if not ready and item["rps"] > 0:
                err = 1.0
            item["own"] = (p50, p99, min(1.0, err))
            item["baseline"] = (traffic["p50_ms"], traffic["p99_ms"], traffic["error_ratio"])
            item["throttle"] = avg_throttle

    def _pool_max(self, svc: Dict[str, Any]) -> int:
        try:
            pool = svc["db_pool"]
            cm = self.store.get_entry("configmaps", svc["namespace"],
                                      pool.get("configmap") or f"{svc['name']}-db-pool").obj
            return int(float((cm.get("data") or {}).get(pool.get("key") or "maximumPoolSize",
                                                         pool["max"])))
        except Exception:  # noqa: BLE001 - ConfigMap missing or unparsable
            return svc["db_pool"]["max"]

    # ------------------------------------------------------------------ containers
    def _containers(self, by_service: Dict[str, List[PodState]],
                    view: Dict[str, Dict[str, Any]], now: float, dt: float,
                    samples: List[Tuple[SeriesKey, float]]) -> None:
        spikes = self.active_faults(now, "memory_spike")
        fills = self.active_faults(now, "disk_fill")
        for name, pods in by_service.items():
            svc = self.services.get(name)
            load = self.load(name, now)
            mem_limit = svc["limits"]["memory"] if svc else None
            cpu_limit = svc["limits"]["cpu"] if svc else None
            for st in pods:
                profile = self.profile(name, st.version)
                mem = profile["memory"]
                if st.state == "running":
                    age = now - st.container_start
                    rate = mem["leak_per_min"] * (load if mem["leak_scales_with_load"] else 1.0)
                    st.leak += rate * dt / 60.0
                    value = (st.baseline or mem["baseline"]) * st.jitter + st.leak
                    if mem["warmup"]:
                        value += mem["warmup"] * (1 - math.exp(-age / max(1.0, mem["warmup_tau"])))
                    for fault, strength in spikes:
                        if fault.get("service") == name:
                            value += fault.get("bytes", 0.0) * strength
                    value *= 1 + 0.004 * (_fast_noise(st.noise_seed, int(now) + 7) - 0.5)
                    st.mem = value
                    if rate and profile["leak_log"] and now - st.logged_at >= 300:
                        st.logged_at = now
                        self.store_log(st, f"{iso(now)} WARN " + _leak_text(
                            profile["leak_log"], value, mem_limit))
                    if mem_limit and value > mem_limit:
                        self._terminate(st, now, "OOMKilled", 137)
                        st.mem = 0.0
                for fault, _ in fills:
                    if fault.get("service") == name and (
                            not fault.get("node") or fault.get("node") == st.node):
                        st.disk_bytes += fault.get("rate_per_min", 0.0) * dt / 60.0
                if svc and svc["disk_write_per_min"]:
                    st.disk_bytes += svc["disk_write_per_min"] * dt / 60.0
                labels = {"namespace": st.namespace, "pod": st.name,
                          "container": st.container, "node": st.node}
                self._emit_container(st, labels, dt, mem_limit, cpu_limit, svc, samples)
            item = view.get(name)
            if item and item.get("pool"):
                for st, active, pending, pool_max in item["pool"]:
                    self._emit_pool(st, name, active, pending, pool_max, samples)

    def _emit_pool(self, st: PodState, name: str, active: float, pending: float,
                   pool_max: int, samples: List[Tuple[SeriesKey, float]]) -> None:
        """One pod's pool gauges under the scenario's pool exporter's names."""
        idle = max(0.0, pool_max - round(active))
        if self.pool_metrics == "otel":  # OpenTelemetry database client semconv
            labels = {"k8s_namespace_name": st.namespace, "k8s_pod_name": st.name,
                      "service_name": name, "db_client_connection_pool_name": f"{name}-pool"}
            for state, value in (("used", round(active)), ("idle", idle)):
                samples.append((series_key("db_client_connection_count", dict(
                    labels, db_client_connection_state=state)), float(value)))
            samples.append((series_key("db_client_connection_max", labels), float(pool_max)))
            samples.append((series_key("db_client_connection_pending_requests", labels),
                            float(round(pending))))
            return
        labels = {"namespace": st.namespace, "pod": st.name, "service": name,
                  "pool": f"{name}-pool"}
        samples.append((series_key("hikaricp_connections_active", labels), round(active)))
        samples.append((series_key("hikaricp_connections_max", labels), float(pool_max)))
        samples.append((series_key("hikaricp_connections_pending", labels), round(pending)))
        samples.append((series_key("hikaricp_connections_idle", labels), idle))

    def _pod_keys(self, st: PodState, labels: Dict[str, str], mem_limit: Optional[float],
                  cpu_limit: Optional[float], svc: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        """The pod's series keys, built once per (pod, node)."""
        if st.keys_node == st.node and st.keys:
            return st.keys
        short = {"namespace": st.namespace, "pod": st.name, "container": st.container}
        keys: Dict[str, Any] = {
            name: _series_key(name, labels) for name in (
                "container_memory_working_set_bytes", "container_cpu_usage_seconds_total",
                "container_cpu_cfs_periods_total", "container_cpu_cfs_throttled_periods_total",
                "container_fs_usage_bytes")}
        keys["restarts"] = _series_key("kube_pod_container_status_restarts_total", short)
        keys["waiting"] = _series_key("kube_pod_container_status_waiting_reason",
                                      dict(short, reason="CrashLoopBackOff"))
        keys["short"] = short
        resources = []
        if svc:
            for resource, unit, amount in (
                    ("memory", "byte", mem_limit), ("cpu", "core", cpu_limit)):
                if amount and not (self.lean and resource == "cpu"):
                    resources.append((_series_key("kube_pod_container_resource_limits", dict(
                        labels, resource=resource, unit=unit)), amount))
            for resource, unit in () if self.lean else (("memory", "byte"), ("cpu", "core")):
                resources.append((_series_key("kube_pod_container_resource_requests", dict(
                    labels, resource=resource, unit=unit)), svc["requests"][resource]))
        keys["resources"] = resources
        st.keys, st.keys_node = keys, st.node
        return keys

    def _emit_container(self, st: PodState, labels: Dict[str, str], dt: float,
                        mem_limit: Optional[float], cpu_limit: Optional[float],
                        svc: Optional[Dict[str, Any]], samples: list) -> None:
        keys = self._pod_keys(st, labels, mem_limit, cpu_limit, svc)
        append = samples.append
        if st.state == "running":
            st.cpu_s += st.cpu_usage * dt
            append((keys["container_memory_working_set_bytes"], st.mem))
            append((keys["container_cpu_usage_seconds_total"], st.cpu_s))
            if st.disk_bytes > 0:  # cAdvisor's writable-layer / emptyDir usage
                append((keys["container_fs_usage_bytes"], st.disk_bytes))
            if cpu_limit and not self.lean:
                st.periods += 10.0 * dt
                st.throttled += 10.0 * dt * st.throttle
                append((keys["container_cpu_cfs_periods_total"], st.periods))
                append((keys["container_cpu_cfs_throttled_periods_total"], st.throttled))
        append((keys["restarts"], float(st.restarts)))
        if st.state == "waiting":
            append((keys["waiting"], 1.0))
        if st.last_term:
            append((series_key("kube_pod_container_status_last_terminated_reason",
                               dict(keys["short"], reason=st.last_term["reason"])), 1.0))
        samples.extend(keys["resources"])

    # ------------------------------------------------------------------ kube-state
    def _kube_state(self, pods: List[Dict[str, Any]], node_ready: Dict[str, bool],
                    samples: List[Tuple[SeriesKey, float]]) -> None:
        info_keys = self._info_keys
        fresh = {}
        for pod in pods:
            md = pod["metadata"]
            node = pod["spec"].get("nodeName", "")
            cached = info_keys.get(md["uid"])
            if cached is None or cached[0] != node:
                owner = (md.get("ownerReferences") or [{}])[0]
                cached = (node, _series_key("kube_pod_info", {
                    "namespace": md["namespace"], "pod": md["name"], "node": node,
                    "created_by_kind": owner.get("kind", ""),
                    "created_by_name": owner.get("name", "")}))
            fresh[md["uid"]] = cached
            samples.append((cached[1], 1.0))
        self._info_keys = fresh
        deployments, _ = self.store.list("deployments", copy=False)
        ready_by_app: Dict[Tuple[str, str], int] = {}
        for st in self.pods.values():
            if st.ready and st.state == "running" and node_ready.get(st.node, False):
                key = (st.namespace, st.service)
                ready_by_app[key] = ready_by_app.get(key, 0) + 1
        for dep in deployments:
            md = dep["metadata"]
            labels = {"namespace": md["namespace"], "deployment": md["name"]}
            status = dep.get("status") or {}
            spec_replicas = float((dep.get("spec") or {}).get("replicas", 1))
            available = status.get("availableReplicas")
            if available is None:
                available = ready_by_app.get((md["namespace"], md["name"]), 0)
            samples.append((series_key("kube_deployment_spec_replicas", labels),
                            spec_replicas))
            samples.append((series_key("kube_deployment_status_replicas_available", labels),
                            float(available)))
            samples.append((series_key("kube_deployment_status_replicas_updated", labels),
                            float(status.get("updatedReplicas", available))))

    def _http(self, view: Dict[str, Dict[str, Any]], dt: float,
              samples: List[Tuple[SeriesKey, float]]) -> None:
        """Request counters and duration histograms per service, under the scenario's HTTP
        exporter's names (`metrics.http`): the same traffic, latency and errors whichever
        exporter; buckets in that exporter's unit."""
        counters = self.counters
        flavour = self.http_metrics
        for name, item in view.items():
            if item["rps"] <= 0 and (not item["pods"] or name not in self.services):
                continue  # no traffic and not a mesh service (e.g. node agents)
            ns = item["namespace"]
            count = item["rps"] * dt
            p50, p99 = max(0.1, item["p50"]), max(item["p99"], item["p50"] * 1.01, 0.2)
            sigma = max(0.05, math.log(p99 / p50) / 2.326)
            mean_ms = p50 * math.exp(sigma ** 2 / 2)
            fractions = [_phi((math.log(b) - math.log(p50)) / sigma) for b in LATENCY_BUCKETS_MS]
            sources = [("unknown", "unknown", item["ext_rps"])]  # callers outside the mesh
            for dep in item["dependents"]:
                if dep in view:
                    sources.append((dep, view[dep]["namespace"], view[dep]["rps"]))
            err = item["error_ratio"]
            upstream_err = item.get("upstream_err", 0.0)
            own_err = max(0.0, err - upstream_err)
            codes = (("200", 1 - err), ("500", own_err), ("503", max(0.0, err - own_err)))
            if flavour == "istio":
                self._istio_series(name, ns, dt, count, fractions, mean_ms, sources, codes)
            elif flavour == "linkerd":
                self._linkerd_series(name, ns, dt, count, fractions, mean_ms, sources, codes)
            elif flavour == "ingress-nginx":
                self._nginx_series(name, ns, dt, item["rps"], fractions, mean_ms, codes)
            else:
                self._otel_series(name, ns, dt, item["rps"], fractions, mean_ms, sources, codes)
        samples.extend(counters.items())

    def _add(self, name: str, labels: Dict[str, str], value: float,
             force: bool = False) -> None:
        """Add to a counter; a series is created once it counts (or when `force`)."""
        key = series_key(name, labels)
        if force or value > 0 or key in self.counters:
            self.counters[key] = self.counters.get(key, 0.0) + value

    def _histogram(self, name: str, base: Dict[str, str], count: float,
                   fractions: List[float], mean_ms: float, scale: float) -> None:
        """`<name>_bucket/_sum/_count` over the ms buckets, `le` and sum in ms / scale."""
        labels = _BUCKET_LABELS if scale == 1.0 else _SECONDS_LABELS
        for frac, label in zip(fractions, labels):
            self._add(name + "_bucket", dict(base, le=label), count * frac, True)
        self._add(name + "_bucket", dict(base, le="+Inf"), count, True)
        self._add(name + "_sum", base, count * mean_ms / scale, True)
        self._add(name + "_count", base, count, True)

    def _istio_series(self, name: str, ns: str, dt: float, count: float,
                      fractions: List[float], mean_ms: float,
                      sources: List[Tuple[str, str, float]],
                      codes: Tuple[Tuple[str, float], ...]) -> None:
        base = {"reporter": "destination", "destination_workload": name,
                "destination_workload_namespace": ns}
        self._histogram("istio_request_duration_milliseconds", base, count, fractions,
                        mean_ms, 1.0)
        for source, source_ns, rate in sources:
            for code, share in codes:
                self._add("istio_requests_total", {
                    "reporter": "destination", "source_workload": source,
                    "source_workload_namespace": source_ns,
                    "destination_workload": name, "destination_workload_namespace": ns,
                    "destination_service_name": name, "response_code": code},
                    rate * dt * share, share > 0)

    def _linkerd_series(self, name: str, ns: str, dt: float, count: float,
                        fractions: List[float], mean_ms: float,
                        sources: List[Tuple[str, str, float]],
                        codes: Tuple[Tuple[str, float], ...]) -> None:
        """linkerd-proxy: inbound series on the callee, outbound ones on each caller."""
        base = {"direction": "inbound", "deployment": name, "namespace": ns}
        self._histogram("response_latency_ms", base, count, fractions, mean_ms, 1.0)
        self._add("request_total", base, count, True)
        for code, share in codes:
            self._add("response_total", dict(base, status_code=code, classification=(
                "success" if code < "500" else "failure")), count * share, share > 0)
        for source, source_ns, rate in sources:
            if source == "unknown":
                continue  # not meshed: no outbound proxy
            for code, share in codes:
                self._add("response_total", {
                    "direction": "outbound", "deployment": source, "namespace": source_ns,
                    "dst_deployment": name, "dst_namespace": ns, "status_code": code,
                    "classification": "success" if code < "500" else "failure"},
                    rate * dt * share, share > 0)

    def _nginx_series(self, name: str, ns: str, dt: float, rps: float, fractions: List[float],
                      mean_ms: float, codes: Tuple[Tuple[str, float], ...]) -> None:
        """ingress-nginx socket metrics as scraped through a ServiceMonitor (the backend's
        service/namespace labels renamed exported_*), histogram in seconds."""
        base = {"exported_service": name, "exported_namespace": ns, "ingress": name,
                "controller_class": "k8s.io/ingress-nginx", "method": "GET"}
        for code, share in codes:
            labels = dict(base, status=code)
            self._add("nginx_ingress_controller_requests", labels, rps * dt * share, share > 0)
            self._histogram("nginx_ingress_controller_request_duration_seconds", labels,
                            rps * dt * share, fractions, mean_ms, 1000.0)

    def _otel_series(self, name: str, ns: str, dt: float, rps: float, fractions: List[float],
                     mean_ms: float, sources: List[Tuple[str, str, float]],
                     codes: Tuple[Tuple[str, float], ...]) -> None:
        """OpenTelemetry HTTP semconv (http.server.request.duration, seconds) exported to
        Prometheus with resource attributes as labels; callers' client histograms give edges."""
        base = {"service_name": name, "k8s_namespace_name": ns, "http_request_method": "GET"}
        for code, share in codes:
            self._histogram("http_server_request_duration_seconds",
                            dict(base, http_response_status_code=code), rps * dt * share,
                            fractions, mean_ms, 1000.0)
        for source, source_ns, rate in sources:
            if source == "unknown":
                continue
            for code, share in codes:
                self._add("http_client_request_duration_seconds_count", {
                    "service_name": source, "k8s_namespace_name": source_ns,
                    "server_address": f"{name}.{ns}.svc.cluster.local",
                    "http_request_method": "GET", "http_response_status_code": code},
                    rate * dt * share, share > 0)

    def _certificates(self, samples: List[Tuple[SeriesKey, float]]) -> None:
        try:
            certs, _ = self.store.list("certificates", copy=False)
        except Exception:  # noqa: BLE001 - resource not served
            return
        for cert in certs:
            not_after = (cert.get("status") or {}).get("notAfter")
            if not not_after:
                continue
            epoch = _parse_iso(not_after)
            samples.append((series_key("certmanager_certificate_expiration_timestamp_seconds", {
                "name": cert["metadata"]["name"], "namespace": cert["metadata"]["namespace"],
                "issuer_name": ((cert.get("spec") or {}).get("issuerRef") or {}).get(
                    "name", "")}), epoch))

    def _pool_spec(self, node: Dict[str, Any]) -> Dict[str, Any]:
        """A node the pool added: same shape as the pool's scenario nodes, empty disk."""
        pool = (node["metadata"].get("labels") or {}).get("node-pool")
        for spec in self.node_specs.values():
            if spec["pool"] == pool:
                fresh = dict(spec, disk_used=min(spec["disk_used"], 20 * 1024 ** 3))
                self.node_specs[node["metadata"]["name"]] = fresh
                return fresh
        return _node_spec_from(node)

    # ------------------------------------------------------------------ views
    def node_memory_pct(self, node: str) -> float:
        return getattr(self, "snapshot_nodes", {}).get(node, {}).get("mem_pct", float("nan"))


def _leak_text(template: str, usage: float, limit: Optional[float]) -> str:
    """The leak log text with `{usage_mib}` / `{usage_pct}` filled in."""
    try:
        return template.format(usage_mib=int(usage / 2 ** 20),
                               usage_pct=int(100 * usage / limit) if limit else 0)
    except (KeyError, IndexError, ValueError):
        return template


def _qos(container: Dict[str, Any]) -> str:
    res = container.get("resources") or {}
    if res.get("limits") and res.get("limits") == res.get("requests"):
        return "Guaranteed"
    return "Burstable" if res else "BestEffort"


def _node_spec_from(node: Dict[str, Any]) -> Dict[str, Any]:
    from twin.scenario import parse_bytes, parse_cpu
    capacity = (node.get("status") or {}).get("capacity") or {}
    return {"memory": parse_bytes(str(capacity.get("memory", "32Gi")).replace("Ki", "Ki")),
            "cpu": parse_cpu(capacity.get("cpu", 8)), "system_memory": 1024 ** 3,
            "disk": parse_bytes(capacity.get("ephemeral-storage", "100Gi")),
            "disk_used": 30 * 1024 ** 3}


def _parse_iso(text: str) -> float:
    import datetime as dt
    return dt.datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=dt.timezone.utc).timestamp()

"""The service model: load, latency and errors per service, upstream slowness and circuit
breakers (DestinationRules), connection pools and CPU.
"""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

from twin.model.kubelet import PodState
from twin.model.signals import _fast_noise, throttle_ratio


class ServiceModel:
    """Per-service traffic, upstreams, pools and CPU."""

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

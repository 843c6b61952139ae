"""The exporters: cAdvisor container series, kube-state-metrics, cert-manager certificates.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

from twin.clock import iso
from twin.model.kubelet import PodState
from twin.model.signals import _fast_noise, _series_key, series_key
from twin.promwrite import SeriesKey


class Exporters:
    """Container, kube-state and certificate series."""

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


def _leak_text(template: str, usage: float, limit: Optional[float]) -> str:
    """The leak log text with `{usage_mib}` / `{usage_pct}` filled in."""
    try:
        return template.format(usage_mib=int(usage / 2 ** 20),
                               usage_pct=int(100 * usage / limit) if limit else 0)
    except (KeyError, IndexError, ValueError):
        return template


def _parse_iso(text: str) -> float:
    import datetime as dt
    return dt.datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=dt.timezone.utc).timestamp()

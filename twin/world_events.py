"""Scripted scenario events (deploy, scale, label, drain, infra on/off) fired at their
virtual times, and the metric views the world derives (HPA utilization, key metric).
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

from twin import controllers as ctl
from twin.clock import iso
from twin.scenario import Scenario


class WorldEvents:
    """The scenario's timeline of events and the world's metric views."""

    # ------------------------------------------------------------------ events
    def _schedule(self) -> List[Tuple[float, int, str, Dict[str, Any]]]:
        events: List[Tuple[float, int, str, Dict[str, Any]]] = []
        first_rel = -self.scenario.history_s
        for svc in self.scenario.services:
            for deploy in svc["deploys"]:
                if deploy["at"] > first_rel:
                    events.append((deploy["at"], len(events), "deploy",
                                   {"service": svc["name"], "version": deploy["version"]}))
        for fault in self.scenario.faults:
            if fault["type"] in ("deploy", "drain", "scale", "label"):
                events.append((fault["at"], len(events), fault["type"], fault))
        for index, fault in enumerate(self.scenario.infra_faults):
            events.append((fault["at"], len(events), "infra_on", dict(fault, index=index)))
            if fault["until"] is not None:
                events.append((fault["until"], len(events), "infra_off",
                               dict(fault, index=index)))
        events.sort(key=lambda e: (e[0], e[1]))
        return events

    def _fire_events(self, now: float) -> None:
        rel = now - self.onset_epoch
        while self._events and self._events[0][0] <= rel:
            _, _, kind, spec = self._events.pop(0)
            try:
                getattr(self, "_event_" + kind)(spec)
            except Exception as exc:  # noqa: BLE001 - a scenario event must not kill the twin
                self.event_errors.append(f"{iso(now)} {kind}: {exc}")

    def _event_deploy(self, spec: Dict[str, Any]) -> None:
        svc = self.scenario.service(spec["service"])
        image = f"{svc['image']}:{spec['version']}"

        def fn(dep: Dict[str, Any]) -> None:
            dep["spec"]["template"]["spec"]["containers"][0]["image"] = image
        self.store.mutate("deployments", svc["namespace"], svc["name"], fn)

    def _event_scale(self, spec: Dict[str, Any]) -> None:
        svc = self.scenario.service(spec["service"])
        self.store.mutate("deployments", svc["namespace"], svc["name"],
                          lambda dep: dep["spec"].__setitem__("replicas", int(spec["replicas"])))

    def _event_label(self, spec: Dict[str, Any]) -> None:
        """A person labels a node (e.g. opens it to a workload class); null removes a label."""
        def fn(obj: Dict[str, Any]) -> None:
            labels = obj.setdefault("metadata", {}).setdefault("labels", {})
            for key, value in (spec.get("labels") or {}).items():
                if value is None:
                    labels.pop(key, None)
                else:
                    labels[key] = str(value)
        self.store.mutate("nodes", None, spec["node"], fn)

    def _event_drain(self, spec: Dict[str, Any]) -> None:
        """A human's planned drain: cordon, then evict every pod (PDB-respecting)."""
        node = spec["node"]
        self.store.mutate("nodes", None, node,
                          lambda obj: obj.setdefault("spec", {}).__setitem__(
                              "unschedulable", True))
        for pod in list(self.store.pods_on_node(node)):
            md = pod["metadata"]
            try:
                ctl.evict(self.store, md["namespace"], md["name"])
            except Exception:  # noqa: BLE001 - PDB said no; a human would retry
                continue

    def _event_infra_on(self, spec: Dict[str, Any]) -> None:
        target, params = spec["target"], dict(spec["params"])
        if target == "api":
            self._api_fault_handles[spec["index"]] = self.api_faults.load([params])
        elif target == "prometheus" and self.proxy:
            kind = params.pop("kind", "down")
            self.proxy.faults.inject(kind, **params)
        elif target == "nats":
            self.nats_down()

    def _event_infra_off(self, spec: Dict[str, Any]) -> None:
        target = spec["target"]
        if target == "api":
            for fault in self._api_fault_handles.pop(spec["index"], []):
                self.api_faults.remove(fault)
        elif target == "prometheus" and self.proxy:
            self.proxy.faults.clear(spec["params"].get("kind", "down"))
        elif target == "nats":
            self.nats_up()

    # ------------------------------------------------------------------ metrics views
    def _hpa_utilization(self, hpa: Dict[str, Any]) -> Optional[float]:
        target = ((hpa.get("spec") or {}).get("scaleTargetRef") or {}).get("name")
        svc = self.scenario.service(target)
        pods = [st for st in self.physics.pods.values() if st.service == target and
                st.state == "running" and st.ready]
        if not svc or not pods:
            return None
        usage = sum(st.cpu_usage for st in pods) / len(pods)
        return 100.0 * usage / max(1e-6, svc["requests"]["cpu"])

    def key_metric_value(self) -> float:
        """The current value of the scenario's key metric (see scenarios/README.md)."""
        spec = self.scenario.ground_truth.get("key_metric") or _default_key_metric(
            self.scenario)
        if not spec:
            return float("nan")
        kind, target = spec.get("type"), spec.get("target", "")
        view = (self.physics.snapshot.get("services") or {}).get(target) or {}
        nodes = getattr(self.physics, "snapshot_nodes", {})
        pods = [st for st in self.physics.pods.values() if st.service == target]
        if kind == "node_memory_pct":
            return nodes.get(target, {}).get("mem_pct", float("nan"))
        if kind == "disk_avail_pct":
            return nodes.get(target, {}).get("disk_avail_pct", float("nan"))
        if kind == "p99_ms":
            return view.get("p99", float("nan"))
        if kind == "error_ratio":
            return view.get("error_ratio", float("nan"))
        if kind == "pool_utilization":
            return view.get("pool_util", float("nan"))
        if kind == "throttle_ratio":
            return view.get("throttle", float("nan"))
        if kind == "ready_replicas":
            return float(view.get("ready", 0))
        if kind == "restarts":
            return float(sum(st.restarts for st in pods))
        if kind == "container_memory":
            running = [st.mem for st in pods if st.state == "running"]
            return max(running) if running else 0.0
        if kind == "cert_days_left":
            for cert in self.scenario.certificates:
                if cert["name"] == target:
                    return (self._cert_not_after(cert) - self.clock.now()) / 86400.0
        if kind == "ready_nodes":
            return float(sum(1 for v in nodes.values() if v.get("ready")))
        return float("nan")

    def _record_key_metric(self, now: float) -> None:
        value = self.key_metric_value()
        if not math.isnan(value):
            self._key_series.append((now, value))

    def _cert_not_after(self, cert: Dict[str, Any]) -> float:
        return self.onset_epoch + cert["expires_in"]


def _default_key_metric(scenario: Scenario) -> Optional[Dict[str, Any]]:
    cause = scenario.ground_truth.get("root_cause")
    if not cause:
        return None
    target = cause["target"]
    name = target["name"]
    if target["kind"] == "Pod" and scenario.service(name) is None:
        name = target.get("service") or name.rsplit("-", 2)[0]
    kind = {"memory_pressure": "node_memory_pct", "memory_leak": "container_memory",
            "cpu_throttling": "throttle_ratio", "crash_loop": "restarts",
            "latency_anomaly": "p99_ms", "error_rate": "error_ratio",
            "disk_pressure": "disk_avail_pct", "connection_pool": "pool_utilization",
            "certificate_expiry": "cert_days_left",
            "node_not_ready": "ready_nodes"}[cause["detector"]]
    return {"type": kind, "target": name}

"""The node model: readiness, unreachable-node eviction, node pressure conditions
(memory, disk) and node metrics.
"""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

from twin.clock import iso
from twin.model.kubelet import PodState
from twin.model.signals import series_key
from twin.promwrite import SeriesKey

NOT_READY_EVICT_S = 300.0
MEMORY_PRESSURE_AVAIL = 0.05
DISK_PRESSURE_AVAIL = 0.10


class NodeModel:
    """Node readiness, conditions and node series."""

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

    def _pool_spec(self, node: Dict[str, Any]) -> Dict[str, Any]:
        """A node the pool added: same shape as the pool's scenario nodes, empty disk."""
        pool = (node["metadata"].get("labels") or {}).get("node-pool")
        for spec in self.node_specs.values():
            if spec["pool"] == pool:
                fresh = dict(spec, disk_used=min(spec["disk_used"], 20 * 1024 ** 3))
                self.node_specs[node["metadata"]["name"]] = fresh
                return fresh
        return _node_spec_from(node)


def _node_spec_from(node: Dict[str, Any]) -> Dict[str, Any]:
    from twin.scenario import parse_bytes, parse_cpu
    capacity = (node.get("status") or {}).get("capacity") or {}
    return {"memory": parse_bytes(str(capacity.get("memory", "32Gi")).replace("Ki", "Ki")),
            "cpu": parse_cpu(capacity.get("cpu", 8)), "system_memory": 1024 ** 3,
            "disk": parse_bytes(capacity.get("ephemeral-storage", "100Gi")),
            "disk_used": 30 * 1024 ** 3}

"""The DaemonSet controller: one daemon pod per node it fits, with the daemon tolerations.
"""
from typing import Any, Dict, List

from twin.controllers.objects import _qos, controller_ref, owner_reference, pod_ready, pod_template
from twin.controllers.scheduling import _tolerates
from twin.controllers.workloads import template_hash
from twin.store import ApiError, NotFound

# What the DaemonSet controller adds to every daemon pod (pkg/controller/daemon/util).
DAEMON_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists",
     "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]


class DaemonSetController:
    """The DaemonSet controller."""

    # ----------------------------------------------------------------- daemonsets
    def reconcile_daemonsets(self) -> None:
        """One pod per eligible node for every DaemonSet (nodeSelector, taints tolerated with
        the tolerations the DaemonSet controller adds), created bound to its node like the
        controller's node-affinity pods; pods on nodes that are gone or no longer eligible are
        deleted; status counts kept."""
        dss = self.store.list("daemonsets", copy=False)[0]
        if not dss:
            return
        nodes = self.store.list("nodes", copy=False)[0]
        for ds in dss:
            try:
                self._reconcile_daemonset(ds, nodes)
            except ApiError:
                continue

    def _reconcile_daemonset(self, ds: Dict[str, Any], nodes: List[Dict[str, Any]]) -> None:
        md, spec = ds["metadata"], ds.get("spec") or {}
        template = spec.get("template") or {}
        probe = {"spec": dict(template.get("spec") or {})}
        probe["spec"]["tolerations"] = list(probe["spec"].get("tolerations") or []) + \
            DAEMON_TOLERATIONS
        eligible = {n["metadata"]["name"] for n in nodes if _daemon_fits(probe, n)}
        by_node: Dict[str, List[Dict[str, Any]]] = {}
        for p in self.store.owned_by(md["uid"], "pods"):
            if (controller_ref(p) or {}).get("uid") == md["uid"] and \
                    not p["metadata"].get("deletionTimestamp"):
                by_node.setdefault((p.get("spec") or {}).get("nodeName", ""), []).append(p)
        for name in sorted(eligible - set(by_node)):
            self._create_daemon_pod(ds, name)
        for name, pods in sorted(by_node.items()):
            extra = pods if name not in eligible else sorted(
                pods, key=lambda p: p["metadata"].get("creationTimestamp", ""))[1:]
            for p in extra:
                try:
                    self.store.delete("pods", p["metadata"]["namespace"], p["metadata"]["name"])
                except NotFound:
                    pass
        pods = [p for n, ps in by_node.items() if n in eligible for p in ps[:1]]
        ready = sum(1 for p in pods if pod_ready(p))
        scheduled = len(set(by_node) & eligible) + len(eligible - set(by_node))
        status = {"currentNumberScheduled": scheduled,
                  "desiredNumberScheduled": len(eligible),
                  "numberMisscheduled": len(set(by_node) - eligible),
                  "numberReady": ready, "numberAvailable": ready,
                  "updatedNumberScheduled": scheduled,
                  "observedGeneration": md.get("generation", 1)}
        if len(eligible) - ready:
            status["numberUnavailable"] = len(eligible) - ready
        if (ds.get("status") or {}) != status:
            self.store.mutate("daemonsets", md["namespace"], md["name"],
                              lambda o: o.__setitem__("status", status), copy_result=False)

    def _create_daemon_pod(self, ds: Dict[str, Any], node: str) -> None:
        md = ds["metadata"]
        template, tmd, spec = pod_template(ds)
        spec["tolerations"] = list(spec.get("tolerations") or []) + [
            t for t in DAEMON_TOLERATIONS if t not in (spec.get("tolerations") or [])]
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [
                {"key": "metadata.name", "operator": "In", "values": [node]}]}]}}}
        spec["nodeName"] = node
        labels = dict(tmd.get("labels") or {})
        labels["pod-template-generation"] = str(md.get("generation", 1))
        labels["controller-revision-hash"] = template_hash(template)
        pod = {"metadata": {"generateName": md["name"] + "-", "namespace": md["namespace"],
                            "labels": labels,
                            "ownerReferences": [owner_reference(ds, "apps/v1", "DaemonSet")]},
               "spec": spec, "status": {"phase": "Pending", "qosClass": _qos(spec)}}
        if tmd.get("annotations"):
            pod["metadata"]["annotations"] = dict(tmd["annotations"])
        self._create_owned_pod(ds, pod, "daemonset-controller")


def _daemon_fits(pod: Dict[str, Any], node: Dict[str, Any]) -> bool:
    """A daemon pod belongs on the node: nodeSelector matches, taints tolerated."""
    labels = node["metadata"].get("labels") or {}
    sel = (pod.get("spec") or {}).get("nodeSelector") or {}
    if any(labels.get(k) != v for k, v in sel.items()):
        return False
    return all(t.get("effect") not in ("NoSchedule", "NoExecute") or _tolerates(pod, t)
               for t in (node.get("spec") or {}).get("taints") or [])

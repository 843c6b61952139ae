"""Read-only cluster views for the policy gate: target metadata and node health."""
from typing import Any, Dict, List, Optional

from lib import clock

CORDONED_BY = "self-healing.io/cordoned-by"
PRESSURE_CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure")
NOT_READY_GRACE_S = 300


class NodeState(object):
    """What the gate needs to know about one node."""

    def __init__(self, name: str, unschedulable: bool = False,
                 annotations: Optional[Dict[str, str]] = None,
                 conditions: Optional[List[Dict[str, Any]]] = None,
                 labels: Optional[Dict[str, str]] = None) -> None:
        self.name = name
        self.unschedulable = unschedulable
        self.annotations = annotations or {}
        self.conditions = conditions or []
        self.labels = labels or {}

    def unhealthy_reason(self, now: float) -> Optional[str]:
        """Why the node counts as unhealthy (NotReady for 300 s, or a pressure), else None."""
        for cond in self.conditions:
            ctype, status = cond.get("type"), str(cond.get("status"))
            if ctype == "Ready" and status != "True":
                since = cond.get("lastTransitionTime")
                age = now - clock.parse_iso(since) if since else NOT_READY_GRACE_S
                if age >= NOT_READY_GRACE_S:
                    return "NotReady"
            if ctype in PRESSURE_CONDITIONS and status == "True":
                return ctype
        return None

    def cordoned_by_healer(self) -> bool:
        """True when unschedulable and marked with the healer's cordon annotation."""
        return self.unschedulable and bool(self.annotations.get(CORDONED_BY))


class KubeClusterReader(object):
    """ClusterReader over the official client (`lib.kube.Kube`)."""

    def __init__(self, kube: Any) -> None:
        self.kube = kube

    def target_meta(self, target: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """Labels (and a Pod's priority class) of the target; None when it does not exist."""
        from lib.kube import KubeError

        kind, namespace, name = target.get("kind"), target.get("namespace"), target.get("name")
        k = self.kube
        try:
            if kind == "Node":
                obj = k.call(k.core.read_node, name)
            elif kind == "Pod":
                obj = k.call(k.core.read_namespaced_pod, name, namespace)
            elif kind == "Deployment":
                obj = k.call(k.apps.read_namespaced_deployment, name, namespace)
            elif kind == "Service":
                obj = k.call(k.core.read_namespaced_service, name, namespace)
            elif kind == "ConfigMap":
                obj = k.call(k.core.read_namespaced_config_map, name, namespace)
            else:
                return {"labels": {}, "priority_class": "", "checked": False}
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise
        spec = getattr(obj, "spec", None)
        return {"labels": dict(obj.metadata.labels or {}),
                "priority_class": getattr(spec, "priority_class_name", None) or "",
                "checked": True}

    def movable_pods(self, node: str, criteria: Optional[str], pods: Optional[List[str]],
                     settings: Any) -> int:
        """How many pods on `node` an evict_pods/drain_node with these criteria would select."""
        from lib import k8s_nodes

        split = k8s_nodes.select_pods(k8s_nodes.pods_on_node(self.kube, node),
                                      criteria or "restartable == true",
                                      settings.protected_namespaces, settings.protected_labels,
                                      pods or None)
        return len(split["selected"])

    def nodes(self) -> List[NodeState]:
        """Every node with its conditions, cordon state and annotations."""
        k = self.kube
        result = []
        for node in k.call(k.core.list_node).items:
            conditions = []
            for cond in (node.status.conditions or []) if node.status else []:
                when = cond.last_transition_time
                conditions.append({"type": cond.type, "status": cond.status,
                                   "lastTransitionTime": clock.isoformat(when.timestamp())
                                   if when else None})
            result.append(NodeState(node.metadata.name,
                                    bool(node.spec.unschedulable) if node.spec else False,
                                    dict(node.metadata.annotations or {}), conditions,
                                    dict(node.metadata.labels or {})))
        return result

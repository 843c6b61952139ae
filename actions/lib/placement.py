"""Did the pods a remediation moved off a node find room elsewhere?

Before a cordoned node is made schedulable again, the healer checks the workloads it evicted
from it: the replacement pods of each evicted pod's controller must be running on other nodes.
A replacement that stays Pending (PodScheduled=False, reason Unschedulable) would be placed
straight back on the node at the uncordon and bring the pressure back, so the plan stops there
and a human decides (see check_displaced_pods).

Feasibility is judged like kube-scheduler's filters, on what the API shows: the node is Ready
and schedulable, its taints (NoSchedule / NoExecute) are tolerated, its labels satisfy the
pod's nodeSelector and required node affinity, and its allocatable room (minus the requests of
the pods bound to it) holds the pod's requests. A new node of a pool is predicted from what
every current node of that pool has in common (labels and taints a pool template puts on all
its nodes); a label only some of its nodes carry was put there by hand and a new node will not
have it.
"""
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from lib.pod_selection import _get

POOL_LABELS = ("cluster.x-k8s.io/deployment-name", "node-pool", "cloud.google.com/gke-nodepool",
               "eks.amazonaws.com/nodegroup", "kubernetes.azure.com/agentpool", "agentpool")
PER_NODE_LABELS = ("kubernetes.io/hostname",)
LIFECYCLE_TAINT_PREFIX = "node.kubernetes.io/"
_UNITS = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50,
          "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "m": 1e-3}


def quantity(value: Any) -> float:
    """A Kubernetes quantity ("500m", "2Gi", "1.5", 3) in base units (0 when absent)."""
    if value is None or value == "":
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    for suffix in sorted(_UNITS, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[:-len(suffix)]) * _UNITS[suffix]
    return float(text)


def pod_requests(pod: Any) -> Tuple[float, float]:
    """(cpu cores, memory bytes) the pod requests (sum of its containers)."""
    cpu = mem = 0.0
    for container in _get(pod, "spec", "containers") or []:
        requests = _get(container, "resources", "requests") or {}
        cpu += quantity(requests.get("cpu"))
        mem += quantity(requests.get("memory"))
    return cpu, mem


def pool_of(node: Any) -> str:
    labels = _get(node, "metadata", "labels") or {}
    for key in POOL_LABELS:
        if labels.get(key):
            return str(labels[key])
    return ""


def scheduled_condition(pod: Any) -> Dict[str, str]:
    """The PodScheduled condition as {status, reason, message} ({} when absent)."""
    for cond in _get(pod, "status", "conditions") or []:
        if _get(cond, "type") == "PodScheduled":
            return {"status": str(_get(cond, "status") or ""),
                    "reason": str(_get(cond, "reason") or ""),
                    "message": str(_get(cond, "message") or "")}
    return {}


def _taint(taint: Any) -> Dict[str, str]:
    return {"key": str(_get(taint, "key") or ""), "value": str(_get(taint, "value") or ""),
            "effect": str(_get(taint, "effect") or "")}


def tolerates(pod: Any, taint: Dict[str, str]) -> bool:
    for tol in _get(pod, "spec", "tolerations") or []:
        effect = _get(tol, "effect") or ""
        if effect and effect != taint["effect"]:
            continue
        key = _get(tol, "key") or ""
        if (_get(tol, "operator") or "Equal") == "Exists":
            if not key or key == taint["key"]:
                return True
        elif key == taint["key"] and (_get(tol, "value") or "") == taint["value"]:
            return True
    return False


def _expression_holds(labels: Dict[str, str], expr: Any) -> bool:
    key = _get(expr, "key") or ""
    op = _get(expr, "operator") or ""
    values = [str(v) for v in (_get(expr, "values") or [])]
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if op in ("Gt", "Lt"):
        try:
            have, want = int(labels[key]), int(values[0])
        except (KeyError, IndexError, ValueError):
            return False
        return have > want if op == "Gt" else have < want
    return False


def selector_reason(pod: Any, labels: Dict[str, str]) -> Optional[str]:
    """Why node labels do not satisfy the pod's nodeSelector / required node affinity."""
    selector = _get(pod, "spec", "node_selector") or {}
    missing = ["%s=%s" % (k, v) for k, v in sorted(selector.items()) if labels.get(k) != v]
    if missing:
        return "nodeSelector %s" % ", ".join(missing)
    required = _get(pod, "spec", "affinity", "node_affinity",
                    "required_during_scheduling_ignored_during_execution")
    terms = _get(required, "node_selector_terms") or []
    if terms and not any(all(_expression_holds(labels, e)
                             for e in (_get(t, "match_expressions") or []))
                         for t in terms):
        return "required node affinity"
    return None


def taint_reason(pod: Any, taints: Iterable[Dict[str, str]]) -> Optional[str]:
    for taint in taints:
        if taint["effect"] in ("NoSchedule", "NoExecute") and not tolerates(pod, taint):
            return "untolerated taint %s=%s:%s" % (taint["key"], taint["value"], taint["effect"])
    return None


def node_ready(node: Any) -> bool:
    for cond in _get(node, "status", "conditions") or []:
        if _get(cond, "type") == "Ready":
            return _get(cond, "status") == "True"
    return False


def node_room(node: Any, pods_on_node: Sequence[Any]) -> Tuple[float, float]:
    """(free cpu, free memory) by requests: allocatable minus the bound pods' requests."""
    alloc = _get(node, "status", "allocatable") or _get(node, "status", "capacity") or {}
    cpu, mem = quantity(alloc.get("cpu")), quantity(alloc.get("memory"))
    for pod in pods_on_node:
        if _get(pod, "status", "phase") in ("Succeeded", "Failed"):
            continue
        c, m = pod_requests(pod)
        cpu -= c
        mem -= m
    return cpu, mem


def why_not(pod: Any, node: Any, pods_on_node: Sequence[Any]) -> Optional[str]:
    """Why this existing node cannot take the pod now (None = it could)."""
    if _get(node, "spec", "unschedulable"):
        return "cordoned"
    if not node_ready(node):
        return "not Ready"
    labels = _get(node, "metadata", "labels") or {}
    reason = selector_reason(pod, labels) or taint_reason(
        pod, [_taint(t) for t in _get(node, "spec", "taints") or []])
    if reason:
        return reason
    cpu, mem = pod_requests(pod)
    free_cpu, free_mem = node_room(node, pods_on_node)
    if mem > free_mem + 1:
        return "insufficient memory"
    if cpu > free_cpu + 1e-9:
        return "insufficient cpu"
    return None


def pool_template(nodes: Sequence[Any], pool: str) -> Optional[Dict[str, Any]]:
    """What a new node of `pool` is predicted to have: the labels and (non-lifecycle) taints
    every current node of the pool shares, and the smallest allocatable; None = no nodes."""
    members = [n for n in nodes if pool_of(n) == pool]
    if not members:
        return None
    common: Optional[Dict[str, str]] = None
    taints: Optional[List[Dict[str, str]]] = None
    cpu = mem = float("inf")
    for node in members:
        labels = {k: v for k, v in (_get(node, "metadata", "labels") or {}).items()
                  if k not in PER_NODE_LABELS}
        common = dict(labels) if common is None else {
            k: v for k, v in common.items() if labels.get(k) == v}
        mine = [_taint(t) for t in _get(node, "spec", "taints") or []
                if not str(_get(t, "key") or "").startswith(LIFECYCLE_TAINT_PREFIX)]
        taints = mine if taints is None else [t for t in taints if t in mine]
        alloc = _get(node, "status", "allocatable") or _get(node, "status", "capacity") or {}
        cpu = min(cpu, quantity(alloc.get("cpu")))
        mem = min(mem, quantity(alloc.get("memory")))
    return {"pool": pool, "labels": common or {}, "taints": taints or [], "cpu": cpu,
            "memory": mem, "nodes": len(members)}


def why_not_new_node(pod: Any, template: Dict[str, Any]) -> Optional[str]:
    """Why a new node of the pool (as predicted by pool_template) could not take the pod."""
    reason = selector_reason(pod, template["labels"]) or taint_reason(pod, template["taints"])
    if reason:
        return "%s is not on every node of pool %s" % (reason, template["pool"]) \
            if reason.startswith(("nodeSelector", "required")) else reason
    cpu, mem = pod_requests(pod)
    if mem > template["memory"] or cpu > template["cpu"]:
        return "its requests do not fit a node of pool %s" % template["pool"]
    return None

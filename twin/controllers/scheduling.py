"""Binding and the scheduler: filters (taints, nodeSelector, room) and FitError wording.
"""
from typing import Any, Dict, List, Optional

from twin.controllers.objects import (
    _cond,
    _set_condition,
    node_ready,
    pod_requests,
    pod_terminal,
)
from twin.quantities import parse_quantity
from twin.store import Conflict, NotFound, Store, iso


def bind_pod(store: Store, namespace: str, name: str, node: str) -> Dict[str, Any]:
    """Bind a pod to a node (pods/binding); Conflict if already bound. Returns the stored
    pod (read-only)."""
    now = iso(store.now_fn())

    def fn(pod: Dict[str, Any]) -> None:
        if (pod.get("spec") or {}).get("nodeName"):
            raise Conflict('Operation cannot be fulfilled on pods/binding "%s": pod %s is '
                           "already assigned to node \"%s\"" % (name, name,
                                                                pod["spec"]["nodeName"]))
        pod.setdefault("spec", {})["nodeName"] = node
        st = pod.setdefault("status", {})
        st["conditions"] = _set_condition(st.get("conditions") or [], "PodScheduled", "True",
                                          "", "", now)
        for c in st["conditions"]:
            if c.get("reason") == "":
                c.pop("reason", None)
                c.pop("message", None)
    return store.mutate("pods", namespace, name, fn, copy_result=False)


def _tolerates(pod: Dict[str, Any], taint: Dict[str, Any]) -> bool:
    for t in (pod.get("spec") or {}).get("tolerations") or []:
        if t.get("effect") and t["effect"] != taint.get("effect"):
            continue
        if t.get("operator") == "Exists":
            if not t.get("key") or t["key"] == taint.get("key"):
                return True
        elif t.get("key") == taint.get("key") and t.get("value", "") == taint.get("value", ""):
            return True
    return False


def _filter_node(pod: Dict[str, Any], room: "_NodeRoom", cpu: float, mem: float) -> List[str]:
    """Why a node cannot take the pod, as kube-scheduler's filter plugins word it, in their
    order (NodeUnschedulable, TaintToleration, NodeAffinity, NodeResourcesFit); [] = fits."""
    node = room.node
    spec = node.get("spec") or {}
    if spec.get("unschedulable") and not _tolerates(pod, {
            "key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}):
        return ["node(s) were unschedulable"]
    taints = list(spec.get("taints") or [])
    if not node_ready(node):  # TaintNodesByCondition: not-ready/unreachable also NoSchedule
        ready = _cond(node, "Ready")
        key = "node.kubernetes.io/not-ready" if ready and ready.get("status") == "False" \
            else "node.kubernetes.io/unreachable"
        taints.append({"key": key, "effect": "NoSchedule"})
    for t in taints:
        if t.get("effect") in ("NoSchedule", "NoExecute") and not _tolerates(pod, t):
            return ["node(s) had untolerated taint {%s: %s}" % (t.get("key", ""),
                                                                 t.get("value", ""))]
    labels = node["metadata"].get("labels") or {}
    node_sel = (pod.get("spec") or {}).get("nodeSelector") or {}
    if any(labels.get(k) != v for k, v in node_sel.items()):
        return ["node(s) didn't match Pod's node affinity/selector"]
    out = []
    if room.pods_used + 1 > room.pods:
        out.append("Too many pods")
    if room.cpu_used + cpu > room.cpu + 1e-9:
        out.append("Insufficient cpu")
    if room.mem_used + mem > room.mem + 1:
        out.append("Insufficient memory")
    return out


def _fit_error(total: int, reasons: Dict[str, int], resource_misses: int) -> str:
    """kube-scheduler's FitError text, e.g. "0/3 nodes are available: 1 Insufficient memory,
    2 node(s) were unschedulable. preemption: 0/3 nodes are available: 1 No preemption victims
    found for incoming pod, 2 Preemption is not helpful for scheduling."."""
    if not total:
        return "no nodes available to schedule pods"
    parts = ", ".join("%d %s" % (n, r) for r, n in sorted(reasons.items()))
    pre = []
    if resource_misses:
        pre.append("%d No preemption victims found for incoming pod" % resource_misses)
    if total - resource_misses:
        pre.append("%d Preemption is not helpful for scheduling" % (total - resource_misses))
    return "0/%d nodes are available: %s. preemption: 0/%d nodes are available: %s." % (
        total, parts, total, ", ".join(pre))


class _NodeRoom:
    __slots__ = ("name", "node", "cpu", "mem", "pods", "cpu_used", "mem_used", "pods_used")

    def __init__(self, node: Dict[str, Any], pods: List[Dict[str, Any]]) -> None:
        alloc = (node.get("status") or {}).get("allocatable") or (
            node.get("status") or {}).get("capacity") or {}
        self.name = node["metadata"]["name"]
        self.node = node
        self.cpu = parse_quantity(alloc.get("cpu", "0"))
        self.mem = parse_quantity(alloc.get("memory", "0"))
        self.pods = int(parse_quantity(alloc.get("pods", "110")))
        self.cpu_used = self.mem_used = 0.0
        self.pods_used = 0
        for p in pods:
            if not pod_terminal(p):
                c, m = pod_requests(p)
                self.cpu_used += c
                self.mem_used += m
                self.pods_used += 1

    def fits(self, cpu: float, mem: float) -> bool:
        return (self.pods_used + 1 <= self.pods and self.cpu_used + cpu <= self.cpu + 1e-9
                and self.mem_used + mem <= self.mem + 1)

    def score(self) -> float:
        return (self.mem_used / self.mem if self.mem else 1.0) + (
            self.cpu_used / self.cpu if self.cpu else 1.0)


class Scheduler:
    """kube-scheduler: binds Pending pods, or says why it cannot."""

    # ----------------------------------------------------------------- scheduler
    def schedule(self) -> int:
        """Bind pending pods; returns how many were bound."""
        store = self.store
        pending = [p for p in store.pods_on_node("")
                   if (p.get("status") or {}).get("phase", "Pending") == "Pending"
                   and not p["metadata"].get("deletionTimestamp")
                   and (p.get("spec") or {}).get("schedulerName",
                                                 "default-scheduler") == "default-scheduler"]
        if not pending:
            return 0
        pending.sort(key=lambda p: (-int((p.get("spec") or {}).get("priority") or 0),
                                    p["metadata"].get("creationTimestamp", ""),
                                    p["metadata"]["name"]))
        nodes = store.list("nodes", copy=False)[0]
        rooms = [_NodeRoom(n, store.pods_on_node(n["metadata"]["name"])) for n in nodes]
        bound = 0
        for pod in pending:
            cpu, mem = pod_requests(pod)
            best: Optional[_NodeRoom] = None
            reasons: Dict[str, int] = {}
            resource_misses = 0
            for room in rooms:
                why = _filter_node(pod, room, cpu, mem)
                if why:
                    for r in why:
                        reasons[r] = reasons.get(r, 0) + 1
                    if why[0].startswith(("Insufficient", "Too many")):
                        resource_misses += 1
                    continue
                if best is None or (room.score(), room.name) < (best.score(), best.name):
                    best = room
            pmd = pod["metadata"]
            if best is None:
                self._unschedulable(pod, _fit_error(len(rooms), reasons, resource_misses))
                continue
            try:
                bind_pod(store, pmd["namespace"], pmd["name"], best.name)
            except (NotFound, Conflict):
                continue
            best.cpu_used += cpu
            best.mem_used += mem
            best.pods_used += 1
            bound += 1
            if self.emit_events:
                self._event(pod, "Scheduled", "Successfully assigned %s/%s to %s"
                            % (pmd["namespace"], pmd["name"], best.name),
                            component="default-scheduler")
        return bound

    def _unschedulable(self, pod: Dict[str, Any], msg: str) -> None:
        """PodScheduled=False/Unschedulable and a FailedScheduling event (again whenever the
        reason changes, as the scheduler's retries report it)."""
        c = _cond(pod, "PodScheduled")
        if c is not None and c.get("reason") == "Unschedulable" and c.get("message") == msg:
            return
        now = iso(self.now_fn())

        def fn(obj: Dict[str, Any]) -> None:
            st = obj.setdefault("status", {})
            st["phase"] = "Pending"
            conds = [x for x in st.get("conditions") or [] if x.get("type") != "PodScheduled"]
            conds.append({"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                          "message": msg, "lastProbeTime": None, "lastTransitionTime": now})
            st["conditions"] = conds
        md = pod["metadata"]
        try:
            self.store.mutate("pods", md["namespace"], md["name"], fn)
        except NotFound:
            return
        self._event(pod, "FailedScheduling", msg, "Warning", "default-scheduler")

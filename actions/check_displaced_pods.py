"""Before a cordoned node is uncordoned: did the pods evicted from it find room elsewhere?

The pods to follow are the ones this incident evicted from the node (its evict_pods /
drain_node results in the incident record, or `evicted` given explicitly). For each evicted
pod's controller the replacement pods must run on other nodes. Replacements still Pending
(PodScheduled=False, Unschedulable) would be placed back on the node as soon as it is
uncordoned, so the result says `escalate: true` with the precise reason (which workload, why no
other node takes it, whether a new node of the node's pool would), and the plan keeps the node
cordoned and hands over to a human instead of uncordoning into a relapse. Read-only.
"""
from typing import Any, Dict, List, Optional, Tuple

from lib import clock, incidents, placement
from lib.base_action import ActionInputError, SelfHealingAction, require
from lib.kube import KubeError
from lib.pod_selection import _get

MOVING_ACTIONS = ("self_healing.evict_pods", "self_healing.drain_node")
Owner = Tuple[str, str, str]  # namespace, kind, name


class CheckDisplacedPods(SelfHealingAction):
    def execute(self, node: str = "", incident_id: str = "",
                evicted: Optional[List[Dict[str, Any]]] = None, pool: str = "",
                wait_s: float = 60.0, poll_s: float = 10.0) -> Dict[str, Any]:
        require(node, "node")
        if float(wait_s) < 0 or float(poll_s) <= 0:
            raise ActionInputError("wait_s must be >= 0 and poll_s > 0")
        moved, since = (_explicit(evicted), None) if evicted else self._from_incident(
            node, incident_id)
        base = {"node": node, "incident_id": incident_id, "moved": [
            "%s/%s" % (m["namespace"], m["name"]) for m in moved]}
        if not moved:
            base.update(placed=True, escalate=False, workloads=[], pool=pool, waited_s=0.0,
                        pool_would_help=None, reason="", summary=(
                            "no pod was moved off node %s by this incident: nothing can come "
                            "back" % node))
            return base
        started = clock.now()
        deadline = started + float(wait_s)
        while True:
            survey = self._survey(node, moved, since)
            unsettled = any(w["pending"] or w["missing"] for w in survey["workloads"])
            if not unsettled or clock.now() >= deadline:
                break
            clock.sleep(min(float(poll_s), max(0.0, deadline - clock.now())) or float(poll_s))
        base["waited_s"] = round(clock.now() - started, 1)
        return self._verdict(base, node, survey, pool)

    # -------------------------------------------------------------- what was moved
    def _from_incident(self, node: str, incident_id: str
                       ) -> Tuple[List[Dict[str, Any]], Optional[float]]:
        if not incident_id:
            raise ActionInputError("incident_id or evicted: one is required (which pods "
                                   "were moved off the node?)")
        book = incidents.Incidents(self.datastore(), int(self.settings.incident_ttl_s))
        try:
            record = book.get(incident_id)
        except incidents.IncidentError as error:
            raise ActionInputError(str(error)) from None
        moved: List[Dict[str, Any]] = []
        since: Optional[float] = None
        for item in record.get("actions") or []:
            result = item.get("result") if isinstance(item.get("result"), dict) else {}
            if item.get("action") not in MOVING_ACTIONS or item.get("dry_run") or \
                    result.get("node") != node:
                continue
            evicted = set(result.get("evicted") or [])
            for facts in result.get("selected") or []:
                if "%s/%s" % (facts.get("namespace"), facts.get("name")) in evicted:
                    moved.append(facts)
            at = result.get("at") or item.get("at")
            if at:
                epoch = clock.parse_iso(at)
                since = epoch if since is None else min(since, epoch)
        return moved, since

    # -------------------------------------------------------------- where they are now
    def _survey(self, node: str, moved: List[Dict[str, Any]],
                since: Optional[float]) -> Dict[str, Any]:
        nodes = list(self.kube.call(self.kube.core.list_node).items or [])
        pods = list(self.kube.call(self.kube.core.list_pod_for_all_namespaces).items or [])
        by_node: Dict[str, List[Any]] = {}
        for pod in pods:
            by_node.setdefault(_get(pod, "spec", "node_name") or "", []).append(pod)
        owners: Dict[Owner, List[str]] = {}
        untracked = []
        for facts in moved:
            if not facts.get("owner_kind") or not facts.get("owner_name"):
                untracked.append("%s/%s" % (facts.get("namespace"), facts.get("name")))
                continue
            key = (str(facts["namespace"]), str(facts["owner_kind"]), str(facts["owner_name"]))
            owners.setdefault(key, []).append(str(facts["name"]))
        workloads = []
        for (namespace, kind, name), names in sorted(owners.items()):
            mine = [p for p in pods if _get(p, "metadata", "namespace") == namespace
                    and not _get(p, "metadata", "deletion_timestamp")
                    and _owned_by(p, kind, name)]
            elsewhere, pending, back = [], [], []
            for pod in mine:
                bound = _get(pod, "spec", "node_name") or ""
                fresh = since is None or _created(pod) >= since - 1.0
                if not bound:
                    pending.append(pod)
                elif bound != node and fresh:
                    elsewhere.append(pod)
                elif bound == node and fresh and _get(pod, "metadata", "name") not in names:
                    back.append(pod)
            missing = max(0, len(names) - len(elsewhere) - len(pending) - len(back))
            workloads.append({
                "namespace": namespace, "kind": kind, "name": name,
                "workload": self._workload(namespace, kind, name), "evicted": len(names),
                "running_elsewhere": ["%s@%s" % (_get(p, "metadata", "name"),
                                                 _get(p, "spec", "node_name")) for p in elsewhere],
                "back_on_node": [_get(p, "metadata", "name") for p in back],
                "pending": [_get(p, "metadata", "name") for p in pending],
                "missing": missing, "_pending_pods": pending})
        return {"nodes": nodes, "by_node": by_node, "workloads": workloads,
                "untracked": untracked}

    def _workload(self, namespace: str, kind: str, name: str) -> str:
        """`namespace/deployment` for a ReplicaSet a Deployment owns, else namespace/name."""
        if kind == "ReplicaSet":
            try:
                rs = self.kube.call(self.kube.apps.read_namespaced_replica_set, name, namespace)
                for ref in _get(rs, "metadata", "owner_references") or []:
                    if _get(ref, "controller") and _get(ref, "kind") == "Deployment":
                        return "%s/%s" % (namespace, _get(ref, "name"))
            except KubeError:
                pass
        return "%s/%s" % (namespace, name)

    # -------------------------------------------------------------- the verdict
    def _verdict(self, base: Dict[str, Any], node: str, survey: Dict[str, Any],
                 pool: str) -> Dict[str, Any]:
        nodes = survey["nodes"]
        this = next((n for n in nodes if _get(n, "metadata", "name") == node), None)
        pool = pool or (placement.pool_of(this) if this is not None else "")
        template = placement.pool_template(nodes, pool) if pool else None
        problems, helps = [], []
        for w in survey["workloads"]:
            stuck = w.pop("_pending_pods")
            if not stuck and not w["back_on_node"]:
                continue
            pod = stuck[0] if stuck else None
            if pod is not None:
                w["scheduler"] = placement.scheduled_condition(pod)
                w["other_nodes"] = {
                    _get(n, "metadata", "name"): placement.why_not(
                        pod, n, survey["by_node"].get(_get(n, "metadata", "name"), []))
                    for n in nodes if _get(n, "metadata", "name") != node}
                only_here = this is not None and not placement.selector_reason(
                    pod, _get(this, "metadata", "labels") or {}) and all(
                    (r or "").startswith(("nodeSelector", "required", "untolerated"))
                    for r in w["other_nodes"].values())
                w["only_this_node"] = only_here
                w["new_pool_node"] = placement.why_not_new_node(pod, template) \
                    if template else "no pool known for node %s" % node
                helps.append(w["new_pool_node"] is None)
            problems.append(_problem(w, node))
        base["workloads"] = survey["workloads"]
        base["untracked"] = survey["untracked"]
        base["pool"] = pool
        base["pool_would_help"] = all(helps) if helps else None
        if not problems:
            where = sorted({p for w in survey["workloads"] for p in w["running_elsewhere"]})
            base.update(placed=True, escalate=False, reason="", summary=(
                "the %d pod(s) moved off %s found room elsewhere (%s)%s" % (
                    len(base["moved"]), node, ", ".join(where) or "their controllers did not "
                    "recreate them", "; not followed (no controller): " + ", ".join(
                        survey["untracked"]) if survey["untracked"] else "")))
            return base
        advice = _advice(survey["workloads"], pool, template)
        reason = "%s; uncordoning %s would bring the pressure back, so it stays cordoned. %s" % (
            "; ".join(problems), node, advice)
        base.update(placed=False, escalate=True, reason=reason, summary=reason)
        return base


def _problem(w: Dict[str, Any], node: str) -> str:
    what = w["workload"]
    if w["pending"]:
        why = "their %s matches only the cordoned node %s" % (
            _selector_text(w), node) if w.get("only_this_node") else (
            "no other node takes them: %s" % _other_reasons(w))
        sched = ((w.get("scheduler") or {}).get("message") or "").split(" preemption:")[0]
        sched = sched if len(sched) <= 200 else sched[:197] + "..."
        return "%d evicted pod(s) of %s are Pending%s: %s" % (
            len(w["pending"]), what, " (%s)" % sched.rstrip(".") if sched else "", why)
    return "%d replacement pod(s) of %s are back on %s" % (len(w["back_on_node"]), what, node)


def _selector_text(w: Dict[str, Any]) -> str:
    reasons = sorted({r for r in (w.get("other_nodes") or {}).values() if r})
    selector = [r for r in reasons if r.startswith(("nodeSelector", "required"))]
    return selector[0] if selector else "placement constraints"


def _other_reasons(w: Dict[str, Any]) -> str:
    counts: Dict[str, int] = {}
    for reason in (w.get("other_nodes") or {}).values():
        counts[reason or "fits now"] = counts.get(reason or "fits now", 0) + 1
    return ", ".join("%d %s" % (n, r) for r, n in sorted(counts.items())) or "no other node"


def _advice(workloads: List[Dict[str, Any]], pool: str,
            template: Optional[Dict[str, Any]]) -> str:
    blocked = [w for w in workloads if w.get("new_pool_node")]
    if template is None:
        return "A human must add capacity the pods can use or change their placement."
    if blocked:
        return "A new node of pool %s would not help (%s); a human must add capacity the " \
            "pods can use, change their placement, or lower their memory use." % (
                pool, blocked[0]["new_pool_node"])
    return "A new node of pool %s would take them: scale the pool before uncordoning." % pool


def _explicit(evicted: List[Any]) -> List[Dict[str, Any]]:
    out = []
    for item in evicted:
        if not isinstance(item, dict) or not item.get("namespace") or not item.get("name"):
            raise ActionInputError("evicted: items are {namespace, name, owner_kind, "
                                   "owner_name} (evict_pods' `selected` facts), got %r"
                                   % (item,))
        out.append(item)
    return out


def _owned_by(pod: Any, kind: str, name: str) -> bool:
    for ref in _get(pod, "metadata", "owner_references") or []:
        if _get(ref, "controller") and _get(ref, "kind") == kind and _get(ref, "name") == name:
            return True
    return False


def _created(pod: Any) -> float:
    stamp = _get(pod, "metadata", "creation_timestamp")
    if stamp is None:
        return 0.0
    if hasattr(stamp, "timestamp"):
        return float(stamp.timestamp())
    try:
        return clock.parse_iso(str(stamp))
    except ValueError:
        return 0.0

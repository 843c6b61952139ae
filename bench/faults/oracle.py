"""The fault suite's oracle: the invariants every case is checked on (unsafe actions,
unexpected modifications, missing audit) and the per-case checks, read from the cluster's
final state, the executions, the audit trail and the incident records' typed fields."""
import json
from typing import Any, Callable, Dict, List, Optional, Set

from harness import outcome


HEALER_ANNOTATION = "self-healing.io/cordoned-by"
PROTECTED_NAMESPACES = ("kube-system", "self-healing")
NODE_ACTIONS = ("cordon_node", "uncordon_node", "drain_node", "evict_pods")
CORRECTIVE = ("rollback_deployment", "configure_circuit_breaker")


class CaseState(object):
    """What the injectors did, for the checks (times are virtual epochs)."""

    def __init__(self) -> None:
        self.kill_switch_at: Optional[float] = None
        self.notes: List[str] = []
        self.injected: List[str] = []


def snapshot(store: Any) -> Dict[str, Any]:
    """The attributes of the cluster the pack may change."""
    snap: Dict[str, Any] = {}
    for node in store.list("nodes")[0]:
        meta = node["metadata"]
        snap["node/" + meta["name"]] = {
            "unschedulable": bool((node.get("spec") or {}).get("unschedulable")),
            "healer": (meta.get("annotations") or {}).get(HEALER_ANNOTATION)}
    for dep in store.list("deployments")[0]:
        meta = dep["metadata"]
        containers = dep["spec"]["template"]["spec"].get("containers") or []
        snap["deployment/%s/%s" % (meta["namespace"], meta["name"])] = {
            "images": [c.get("image") for c in containers],
            "replicas": dep["spec"].get("replicas")}
    for cm in store.list("configmaps")[0]:
        meta = cm["metadata"]
        if meta["name"].endswith("-db-pool"):
            snap["configmap/%s/%s" % (meta["namespace"], meta["name"])] = dict(
                cm.get("data") or {})
    for dr in store.list("destinationrules")[0]:
        meta = dr["metadata"]
        snap["destinationrule/%s/%s" % (meta["namespace"], meta["name"])] = True
    for md in store.list("machinedeployments")[0]:
        meta = md["metadata"]
        snap["machinedeployment/%s/%s" % (meta["namespace"], meta["name"])] = (
            md.get("spec") or {}).get("replicas")
    return snap


def _params(execution: Dict[str, Any]) -> Dict[str, Any]:
    return execution.get("parameters") or {}


def _touched_keys(execution: Dict[str, Any]) -> List[str]:
    """Snapshot keys an action may have changed."""
    name = execution["ref"].split(".", 1)[-1]
    p = _params(execution)
    ns = p.get("namespace", "")
    if name in NODE_ACTIONS:
        return ["node/" + str(p.get("node", ""))]
    if name in ("rollback_deployment", "scale_deployment", "restart_deployment",
                "restart_idle_connections"):
        return ["deployment/%s/%s" % (ns, p.get("deployment") or p.get("service"))]
    if name == "increase_pool_size_temporarily":
        return ["configmap/%s/%s-db-pool" % (ns, p.get("service"))]
    if name == "configure_circuit_breaker":
        return ["destinationrule/%s/" % ns]
    if name == "scale_node_pool":
        return ["machinedeployment/"]
    return []


def _target_words(execution: Dict[str, Any]) -> List[str]:
    p = _params(execution)
    return [str(p[k]) for k in ("node", "deployment", "service", "upstream", "pool", "pod")
            if p.get(k)]


def _namespace_of(execution: Dict[str, Any], store: Any) -> str:
    p = _params(execution)
    if p.get("namespace"):
        return str(p["namespace"])
    return ""


def invariants(result: Any, state: CaseState, before: Dict[str, Any],
               after: Dict[str, Any]) -> Dict[str, Any]:
    """Count unsafe actions, unexpected modifications and missing audit records."""
    changes = outcome.mutations(result.executions)
    decisions = [r for r in audit_records(result) if r.get("type") == "policy_decision"]
    problems: List[str] = []
    unsafe = 0
    missing = 0
    used: Dict[int, bool] = {}
    for execution in sorted(changes, key=lambda e: float(e.get("started_at") or 0)):
        name = execution["ref"].split(".", 1)[-1]
        started = float(execution.get("started_at") or 0)
        words = _target_words(execution)
        # each real change consumes one earlier `execute` decision on the same target
        allowed = [i for i, d in enumerate(decisions)
                   if i not in used and d.get("decision") == "execute" and not d.get("dry_run")
                   and float(d.get("at_epoch") or 0) <= started + 1e-6
                   and _decision_names(d, words)]
        if allowed:
            used[allowed[-1]] = True
        if result.mode != "autonomous":
            unsafe += 1
            problems.append("unsafe: %s made a real change in %s mode" % (name, result.mode))
        elif not allowed:
            unsafe += 1
            problems.append("unsafe: %s on %s without an execute decision" % (name, words))
        if state.kill_switch_at is not None and started > state.kill_switch_at + 1e-6:
            unsafe += 1
            problems.append("unsafe: %s after the kill switch" % name)
        if _namespace_of(execution, None) in PROTECTED_NAMESPACES:
            unsafe += 1
            problems.append("unsafe: %s in protected namespace" % name)
        if not allowed:
            missing += 1
            problems.append("audit: no policy decision recorded for %s %s" % (name, words))
        if not _in_timeline(result, words, started):
            missing += 1
            problems.append("audit: no timeline entry for %s %s" % (name, words))
    deleted_pods = [e for e in result.world.authorizer.usage_log()
                    if e.get("verb") == "delete" and e.get("resource") == "pods"
                    and e.get("allowed")]
    if deleted_pods:
        unsafe += len(deleted_pods)
        problems.append("unsafe: %d pod deletion(s) through the API" % len(deleted_pods))
    budget = max(0, int(((result.engine.config.get("budgets") or {}).get(
        "max_cordoned_nodes")) or 1))
    cordoned_peak = _peak_cordoned(changes)
    if cordoned_peak > budget:
        unsafe += 1
        problems.append("unsafe: %d nodes cordoned at once (budget %d)" % (cordoned_peak, budget))
    unexpected = 0
    for key in sorted(set(before) | set(after)):
        if before.get(key) == after.get(key):
            continue
        touching = [e for e in changes if any(key.startswith(t) for t in _touched_keys(e))]
        if not touching:
            continue  # the world changed it (a planned deploy or drain), not the pack
        if not _accounted(result, key, touching):
            unexpected += 1
            problems.append("left modified: %s %s -> %s" % (key, before.get(key),
                                                             after.get(key)))
    return {"actions_executed": len(changes), "unsafe_actions": unsafe,
            "unexpected_modifications": unexpected, "missing_audit": missing,
            "problems": problems}


def _decision_names(decision: Dict[str, Any], words: List[str]) -> bool:
    target = decision.get("target") or {}
    names = {str(target.get("name", "")), str(target.get("node", ""))}
    return not words or any(w in names for w in words)


def _entry_names(entry: Dict[str, Any]) -> Set[str]:
    """The names of the targets a timeline entry is about (its typed fields, not its text)."""
    from lib import incidents

    return {n for t in incidents.entry_targets(entry) for n in incidents.names_of(t)}


def _in_timeline(result: Any, words: List[str], started: float) -> bool:
    """Some incident records a step or an undo on one of the change's targets."""
    from lib import incidents

    for incident in result.incidents:
        for entry in incident.get("timeline") or []:
            if incidents.entry_kind(entry) in ("step", "undo") and \
                    _entry_names(entry) & set(words):
                return True
    return not words


def _peak_cordoned(changes: List[Dict[str, Any]]) -> int:
    cordoned: Set[str] = set()
    peak = 0
    for execution in sorted(changes, key=lambda e: float(e.get("started_at") or 0)):
        name = execution["ref"].split(".", 1)[-1]
        node = _params(execution).get("node")
        if name in ("cordon_node", "drain_node"):
            cordoned.add(node)
        elif name == "uncordon_node":
            cordoned.discard(node)
        peak = max(peak, len(cordoned))
    return peak


def _accounted(result: Any, key: str, touching: List[Dict[str, Any]]) -> bool:
    """Whether a change still in place at the end is accounted for.

    Corrective changes (a rollback to the previous version, a circuit breaker) may stay when an
    incident's timeline records them. Temporary ones (cordon, scaling, restarts, a larger pool)
    must be undone unless a resolved incident made them, or an incident's entries name them as
    left in place for a human (`left_in_place`).
    """
    from lib import incidents

    name = key.rsplit("/", 1)[-1]
    corrective = all(e["ref"].split(".", 1)[-1] in CORRECTIVE for e in touching)
    for incident in result.incidents:
        status = incident.get("status")
        named = set()  # type: Set[str]
        for entry in incident.get("timeline") or []:
            named |= _entry_names(entry)
        if name not in named and not (corrective and key.startswith("destinationrule/")):
            continue
        if status == "resolved" or corrective:
            return True
        if any(name in incidents.names_of(t) for t in incidents.left_in_place(incident)):
            return True
    return False


def audit_records(result: Any) -> List[Dict[str, Any]]:
    records = []
    for item in result.engine.store.list("self_healing.audit."):
        try:
            records.append(json.loads(item.value))
        except (TypeError, ValueError):
            continue
    return records


def _closed_cleanly(result: Any, state: CaseState) -> List[str]:
    """The interrupted incident was closed by reconcile (or finished); none stays open."""
    stuck = [i["id"] for i in result.incidents
             if i.get("status") in ("open", "remediating", "verifying")]
    return ["incident(s) left in progress after the interruption: %s" % stuck] if stuck else []


def _nothing_cordoned(result: Any, state: CaseState) -> List[str]:
    """No node is left cordoned by the healer, except one its incident handed to a human on
    purpose: escalated, with an escalation entry naming the node as left in place (e.g. the
    evicted pods had nowhere else to go and an uncordon would bring the pressure back)."""
    from lib import incidents

    by_id = {inc.get("id"): inc for inc in result.incidents}
    left = []
    for n in result.world.store.list("nodes")[0]:
        ann = n["metadata"].get("annotations") or {}
        if not (n.get("spec") or {}).get("unschedulable") or not ann.get(HEALER_ANNOTATION):
            continue
        name = n["metadata"]["name"]
        incident = by_id.get(ann.get("self-healing.io/incident")) or {}
        handed = incident.get("status") == "escalated" and any(
            t.get("kind") == "Node" and t.get("name") == name
            for e in incidents.entries(incident, kind="escalation")
            for t in e.get("left_in_place") or [])
        if not handed:
            left.append(name)
    return ["node(s) left cordoned by the healer: %s" % left] if left else []


def _no_mutation(result: Any, state: CaseState) -> List[str]:
    changes = outcome.mutations(result.executions)
    return ["mutations happened: %s" % [c["ref"] for c in changes]] if changes else []


def _one_remediation(action: str) -> Callable[[Any, CaseState], List[str]]:
    def check(result: Any, state: CaseState) -> List[str]:
        done = [c for c in outcome.mutations(result.executions)
                if c["ref"] == "self_healing." + action]
        return [] if len(done) <= 1 else ["%s ran %d times" % (action, len(done))]
    return check


def _degraded_once(result: Any, state: CaseState) -> List[str]:
    degraded = [t for t in result.triggers if t["type"] == "self_healing.sensor_degraded"]
    if not degraded:
        return ["no sensor_degraded trigger during the outage"]
    per_source: Dict[str, int] = {}
    for t in degraded:
        key = "%s/%s" % (t["payload"].get("source"), t["payload"].get("detector"))
        per_source[key] = per_source.get(key, 0) + 1
    repeated = {k: v for k, v in per_source.items() if v > 1}
    return ["sensor_degraded repeated within one outage: %s" % repeated] if repeated else []


def _no_signal(result: Any, state: CaseState) -> List[str]:
    fired = [t["type"] for t in result.signal_triggers()
             if t["type"] not in ("self_healing.sensor_degraded", "self_healing.signal_cleared")
             and not t.get("rejected")]
    return ["signals fired on bad data: %s" % fired] if fired else []


def _checks(*fns: Callable[[Any, CaseState], List[str]]) -> Callable[[Any, CaseState], List[str]]:
    def check(result: Any, state: CaseState) -> List[str]:
        out: List[str] = []
        for fn in fns:
            out.extend(fn(result, state))
        return out
    return check


def _not_resolved(result: Any, state: CaseState) -> List[str]:
    bad = [i["id"] for i in result.incidents if i.get("status") == "resolved"]
    return ["incident resolved although verification could not be read: %s" % bad] if bad else []


def _nats_failure_recorded(result: Any, state: CaseState) -> List[str]:
    runs = result.executions_of("notify_dependents")
    if not runs:
        return ["notify_dependents never ran"]
    failed = [r for r in runs if "fail" in json.dumps(r.get("result"), default=str).lower()
              or "error" in json.dumps(r.get("result"), default=str).lower()]
    return [] if failed else ["NATS outage not recorded in notify_dependents' result"]


def _storm_escalated(result: Any, state: CaseState) -> List[str]:
    """The incident names a NotReady node and escalates it to a human as a node storm."""
    from lib import incidents

    problems = []
    for inc in result.incidents:
        root = inc.get("root_cause") or {}
        if root.get("detector") != "node_not_ready":
            problems.append("%s: root cause %s, not a NotReady node" % (
                inc.get("id"), root.get("detector")))
        elif not any(e.get("cause") == "node_storm"
                     for e in incidents.entries(inc, kind="escalation")):
            problems.append("%s: the timeline does not escalate the node storm" % inc.get("id"))
    return problems


def _handed_over_at_most_once(result: Any, state: CaseState) -> List[str]:
    """No incident is handed over to a playbook more than once (no hand-over loop)."""
    problems = []
    for inc in result.incidents:
        count = len(inc.get("handovers") or [])
        if count > 1:
            problems.append("%s handed over %d times" % (inc.get("id"), count))
    return problems


def _nothing_cordoned_beyond(limit: int) -> Callable[[Any, CaseState], List[str]]:
    def check(result: Any, state: CaseState) -> List[str]:
        cordons = [c for c in outcome.mutations(result.executions)
                   if c["ref"] in ("self_healing.cordon_node", "self_healing.drain_node")]
        nodes = {_params(c).get("node") for c in cordons}
        return [] if len(nodes) <= limit else ["cordoned %d nodes in a storm: %s" % (
            len(nodes), sorted(nodes))]
    return check

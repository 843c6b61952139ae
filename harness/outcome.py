"""Judge a replay against the scenario's ground truth and compute the closing figures."""
import math
from typing import Any, Dict, List, Optional, Tuple

MUTATING = ("cordon_node", "uncordon_node", "drain_node", "evict_pods", "restart_pod",
            "rollback_deployment", "scale_deployment", "restart_deployment",
            "configure_circuit_breaker", "increase_pool_size_temporarily",
            "restart_idle_connections", "scale_node_pool")
TERMINAL = ("resolved", "escalated", "failed")
# undoing the pack's own change is acceptable whenever the change itself is
UNDO_OF = {"uncordon_node": "cordon_node"}


def epoch_or_none(value: Any) -> Optional[float]:
    if value in (None, ""):
        return None
    from engine.timeparse import to_epoch
    try:
        return to_epoch(value)
    except (TypeError, ValueError):
        return None


def mutations(executions: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Real (not dry-run) successful cluster changes made by the pack's actions."""
    found = []
    for execution in executions:
        name = execution["ref"].split(".", 1)[-1]
        if name not in MUTATING or execution["status"] != "succeeded":
            continue
        if (execution.get("parameters") or {}).get("dry_run"):
            continue
        value = (execution.get("result") or {}).get("result")
        if isinstance(value, dict) and (value.get("dry_run") or value.get("changed") is False):
            continue
        found.append(execution)
    return found


def observed_outcome(incidents: List[Dict[str, Any]], changes: List[Dict[str, Any]]) -> str:
    statuses = [inc.get("status") for inc in incidents]
    if "resolved" in statuses and changes:
        return "remediate"
    if "escalated" in statuses:
        return "escalate"
    if changes:
        return "remediate"
    return "none"


def root_cause_matches(incident: Dict[str, Any], truth: Dict[str, Any]) -> bool:
    """The incident's root cause is the ground truth's (scenarios/README.md, ground_truth).

    Same detector and target; for Pod targets the truth names the Deployment (service), so
    any of its pods counts; an incident whose root-cause signal is on `cause_service` counts.
    """
    expected = truth.get("root_causes") or ([truth["root_cause"]] if truth.get("root_cause")
                                            else [])
    root = incident.get("root_cause") or {}
    target = root.get("target") or {}
    name = target.get("name") or ""
    for cause in expected:
        want = cause.get("target") or {}
        if root.get("detector") != cause.get("detector"):
            continue
        if name == want.get("name"):
            return True
        if want.get("kind") == "Pod" and want.get("name") and (
                root.get("service") == want["name"] or name.startswith(want["name"] + "-")):
            return True
    service = truth.get("cause_service")
    return bool(service) and root.get("service") == service


def assess(mode: str, truth: Dict[str, Any], incidents: List[Dict[str, Any]],
           executions: List[Dict[str, Any]], approve: str = "auto") -> Dict[str, Any]:
    """{expected, observed, ok, reasons, mutations} for one run."""
    changes = mutations(executions)
    observed = observed_outcome(incidents, changes)
    expected = truth.get("expected_outcome", "none")
    reasons: List[str] = []
    acceptable = set(truth.get("acceptable_remediations") or [])
    if mode in ("observe", "dry_run"):
        if changes:
            reasons.append("%s mode made real changes: %s"
                           % (mode, [c["ref"] for c in changes]))
        if expected != "none" and not incidents:
            reasons.append("no incident was opened for a fault")
    elif expected == "none":
        if changes:
            reasons.append("benign scenario but the pack changed the cluster: %s"
                           % [c["ref"] for c in changes])
    else:
        denied_ok = approve in ("deny", "expire") and observed == "escalate"
        if observed != expected and not denied_ok:
            reasons.append("expected outcome %s, observed %s" % (expected, observed))
        if incidents and not any(root_cause_matches(inc, truth) for inc in incidents):
            reasons.append("no incident names the ground-truth root cause")
        if not incidents:
            reasons.append("no incident was opened")
        if acceptable:
            allowed = acceptable | {undo for undo, change in UNDO_OF.items()
                                    if change in acceptable}
            bad = [c["ref"] for c in changes if c["ref"].split(".", 1)[-1] not in allowed]
            if bad:
                reasons.append("remediations outside the acceptable set: %s" % bad)
    return {"expected": expected, "observed": observed, "ok": not reasons,
            "reasons": reasons, "mutations": [c["ref"] for c in changes]}


def figures(incidents: List[Dict[str, Any]], onset: Optional[float],
            inquiries: List[Any], approve: str) -> Dict[str, Any]:
    """Time to detect / remediate / verify of the first incident, and human involvement."""
    result: Dict[str, Any] = {"time_to_detect_s": None, "time_to_remediate_s": None,
                              "time_to_verify_s": None, "total_s": None,
                              "human_involvement": "none"}
    if inquiries:
        answered = [i for i in inquiries if i.status in ("approved", "denied")]
        who = {"ask": "a person at this terminal", "chat": "an operator in chat"}.get(
            approve, "the engine's approve policy (%s)" % approve)
        result["human_involvement"] = "%d approval request(s), answered by %s" % (
            len(answered), who) if answered else "%d approval request(s), unanswered" % len(
            inquiries)
    escalated = [inc for inc in incidents if inc.get("status") == "escalated"]
    if escalated:
        result["human_involvement"] = "escalated to humans (%d incident(s))" % len(escalated)
    if not incidents:
        return result
    incident = incidents[0]
    detected = (epoch_or_none(incident.get("detected_at")) or
                epoch_or_none(incident.get("created_at")))
    root = incident.get("root_cause") or {}
    began = epoch_or_none(root.get("first_detected")) or onset
    if detected is not None and began is not None:
        result["time_to_detect_s"] = max(0.0, detected - began)
    remediated = epoch_or_none(incident.get("remediated_at"))
    verified = epoch_or_none(incident.get("verified_at"))
    if detected is not None and remediated is not None:
        result["time_to_remediate_s"] = remediated - detected
    if detected is not None and verified is not None:
        result["time_to_verify_s"] = verified - detected
    times = [epoch_or_none(entry.get("at")) for entry in incident.get("timeline") or []]
    times = [t for t in times if t is not None]
    if times:
        result["total_s"] = max(times) - min(times)
    return result


# ------------------------------------------------------------------ honest recovery
_COMPARE = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}


def condition_series(samples: List[Tuple[float, List[float]]], comparator: str,
                     threshold: float) -> List[Tuple[float, bool]]:
    """Per evaluation time: did every returned series satisfy the condition? Empty = no."""
    if comparator not in _COMPARE:
        raise ValueError("comparator: must be one of %s" % ", ".join(sorted(_COMPARE)))
    compare = _COMPARE[comparator]
    out = []
    for at, values in samples:
        values = [v for v in values if not math.isnan(v) and not math.isinf(v)]
        out.append((at, bool(values) and all(compare(v, threshold) for v in values)))
    return out


def recovery_from(held: List[Tuple[float, bool]], hold_s: float, end: float
                  ) -> Dict[str, Any]:
    """When the condition last started holding and whether it held `hold_s` up to `end`.

    A relapse resets the clock: only the final run of good evaluations counts, and a run
    that ends before that run lasted `hold_s` is not recovered.
    """
    since: Optional[float] = None
    for at, ok in sorted(held):
        if at > end + 1e-6:
            break
        if ok:
            since = at if since is None else since
        else:
            since = None
    held_s = (end - since) if since is not None else 0.0
    recovered = since is not None and held_s + 1e-6 >= hold_s
    return {"recovered": recovered, "recovered_at": since if recovered else None,
            "holding_since": since, "held_s": round(held_s, 1), "hold_s": hold_s}


def metric_verified_at(incidents: List[Dict[str, Any]],
                       executions: List[Dict[str, Any]]) -> Optional[float]:
    """Earliest time an incident's recovery was verified on a metric (a met
    wait_for_condition of that incident), or None: "the plan ended" is not a verification."""
    ids = {inc.get("id") for inc in incidents}
    times = []
    for execution in executions:
        if execution["ref"].split(".", 1)[-1] != "wait_for_condition":
            continue
        if execution.get("status") != "succeeded":
            continue
        value = (execution.get("result") or {}).get("result") or {}
        if not (isinstance(value, dict) and value.get("met")):
            continue
        if not _belongs(execution, executions, ids):
            continue
        finished = execution.get("finished_at")
        if finished is not None:
            times.append(float(finished))
    return min(times) if times else None


def _belongs(execution: Dict[str, Any], executions: List[Dict[str, Any]],
             ids: set) -> bool:
    """The execution ran for one of these incidents: its own or an ancestor's parameters name
    it, or an ancestor workflow's output does (a playbook started by a signal learns its
    incident from diagnose, so its own direct steps, e.g. a watch before acting, carry none)."""
    by_id = {e.get("id"): e for e in executions}
    seen = 0
    current: Optional[Dict[str, Any]] = execution
    while current is not None and seen < 50:
        if (current.get("parameters") or {}).get("incident_id") in ids:
            return True
        output = (current.get("result") or {}).get("output") \
            if isinstance(current.get("result"), dict) else None
        if isinstance(output, dict) and output.get("incident_id") in ids:
            return True
        current = by_id.get(current.get("parent"))
        seen += 1
    return not ids


# ------------------------------------------------------------------ every incident ends
def _end_budget_s() -> float:
    # imported here, not at module level: harness.replay imports this module before the
    # engine's Pack puts actions/ on sys.path (`python -m bench.corpus` would fail)
    from lib import incidents
    return float(incidents.END_BUDGET_S)


def _status_time(incident: Dict[str, Any], status: str) -> Optional[float]:
    for change in incident.get("status_history") or []:
        if change.get("to") == status:
            return epoch_or_none(change.get("at"))
    return None


def incident_ends(incidents: List[Dict[str, Any]], executions: List[Dict[str, Any]],
                  run_end: float, budget_s: Optional[float] = None) -> List[Dict[str, Any]]:
    """One row per incident: how it ended and whether it ended in time.

    An incident must end within `budget_s` plus its playbook's own holds (the `hold_s` of
    its verifications, and the time it watched before acting) after it opened: resolved with a
    metric-verified recovery (or with no change made: a false alarm), escalated to a human
    (a failed plan's report goes to the escalation channel too), or closed as a false
    alarm. Open at the end of the run, or ended later than that, is a breach.
    """
    rows = []
    for incident in incidents:
        ids = {incident.get("id")}
        mine = [e for e in executions if _belongs(e, executions, ids)]
        holds = 0.0
        changes = mutations(mine)
        first_change = min([float(c.get("started_at") or 0) for c in changes] or [float("inf")])
        for execution in mine:
            params = execution.get("parameters") or {}
            name = execution["ref"].split(".", 1)[-1]
            if name == "wait_for_condition":
                holds += float(params.get("hold_s") or 0)
                started = float(execution.get("started_at") or 0)
                finished = float(execution.get("finished_at") or started)
                if finished <= first_change and execution.get("parent"):
                    # watching before acting (e.g. a leak's curve) is the playbook's own hold
                    holds += max(0.0, finished - started - float(params.get("hold_s") or 0))
            holds += float(params.get("watch_s") or 0)
        opened = epoch_or_none(incident.get("created_at")) or 0.0
        status = incident.get("status")
        how, ended = None, None
        if incident.get("false_positive"):
            how, ended = "false_alarm", epoch_or_none(incident.get("resolved_at"))
        elif status == "escalated" or incident.get("escalated"):
            how = "escalated"
            ended = _status_time(incident, "escalated") or _first_entry(incident, "ESCALATE")
        elif status == "failed":  # finish_incident posts the failure report to the channel
            how, ended = "failed_to_human", epoch_or_none(incident.get("resolved_at"))
        elif status == "resolved":
            changed = bool(changes)
            verified = metric_verified_at([incident], mine)
            if changed and verified is None:
                how = "resolved_unverified"
            else:
                how = "resolved_verified" if changed else "resolved_no_change"
            ended = epoch_or_none(incident.get("resolved_at"))
        bound = opened + (budget_s if budget_s is not None else _end_budget_s()) + holds
        problem = ""
        if how is None:
            problem = "left %s at the end of the run" % status
        elif how == "resolved_unverified":
            problem = "resolved after changes without a metric verification"
        elif ended is None or ended > bound + 1e-6:
            problem = "ended %s s after opening (bound %s s)" % (
                "?" if ended is None else round(ended - opened), round(bound - opened))
        rows.append({"id": incident.get("id"), "status": status, "how": how,
                     "opened": opened, "ended": ended, "bound_s": round(bound - opened, 1),
                     "ok": not problem, "problem": problem,
                     "open_at_end": how is None and run_end >= opened})
    return rows


def _first_entry(incident: Dict[str, Any], entry_type: str) -> Optional[float]:
    for entry in incident.get("timeline") or []:
        if entry.get("type") == entry_type:
            return epoch_or_none(entry.get("at"))
    return None

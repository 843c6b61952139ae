"""Judge a replay against the scenario's ground truth and compute the closing figures."""
from typing import Any, Dict, List, Optional

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

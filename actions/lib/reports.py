"""Human-readable views: incident report for Slack, status, lists, effectiveness, shadow mode."""
from typing import Any, Dict, List, Optional

from lib import clock, incidents, st2_links

STATUS_ICON = {"open": ":mag:", "remediating": ":hammer_and_wrench:", "verifying": ":eyes:",
               "resolved": ":white_check_mark:", "escalated": ":raising_hand:",
               "failed": ":x:"}
FENCE = "`" * 3
# the actions whose real steps count as a rollback / a prevented cascade in the effectiveness
# report
ROLLBACK_ACTIONS = ("self_healing.rollback_deployment",)
CASCADE_ACTIONS = ("self_healing.configure_circuit_breaker",)


def real_steps(record: Dict[str, Any]) -> List[Dict[str, Any]]:
    """EXECUTE entries of plan steps that changed something (no dry runs, no failures; an
    entry of an older pack version, without a kind, is not known to be one)."""
    return incidents.entries(record, kind="step", entry_type="EXECUTE", real_only=True)


def real_executions(record: Dict[str, Any]) -> List[str]:
    """Messages of the real plan steps (see `real_steps`), for display."""
    return [str(e.get("message", "")) for e in real_steps(record)]


def human_involved(record: Dict[str, Any]) -> bool:
    return bool(record.get("escalated")) or record.get("status") == "escalated"


def incident_title(record: Dict[str, Any]) -> str:
    root = record.get("root_cause") or {}
    trigger = record.get("trigger_summary") or root.get("summary") or record.get("id", "")
    return trigger


def verified(record: Dict[str, Any]) -> bool:
    """True when a real verification step completed (not a dry run, not a failure)."""
    return incidents.last_entry_at(record, "VERIFY", real_only=True) is not None


def incident_report(record: Dict[str, Any], web_url: str = "") -> str:
    """The Slack message about one incident (mrkdwn; one code block, never nested)."""
    status = record.get("status", "open")
    root = record.get("root_cause") or {}
    lines = ["%s *%s* `%s` — %s" % (
        STATUS_ICON.get(status, ""), _headline(record), record.get("id"), status.upper())]
    lines.append("*Root cause:* %s (confidence %d%%)" % (
        root.get("summary") or "unknown", round(float(record.get("confidence") or 0) * 100)))
    if record.get("affected_services"):
        lines.append("*Affected:* %s · severity %s" % (
            ", ".join(record["affected_services"]), record.get("severity", "?")))
    done = real_executions(record)
    if done:
        lines.append("*Actions:* %s" % "; ".join(done))
    denied = [e.get("message", "") for e in record.get("timeline") or []
              if e.get("type") == "DENY"]
    if denied:
        lines.append("*Skipped by policy:* %s" % "; ".join(denied))
    figures = ["detected in %s" % incidents.duration_text(incidents.time_to_detect(record))]
    if incidents.time_to_remediate(record) is not None:
        figures.append("recovered in %s" % incidents.duration_text(
            incidents.time_to_remediate(record)))
    total = incidents.seconds_between(record.get("detected_at"), record.get("resolved_at"))
    if total is not None:
        figures.append("total %s" % incidents.duration_text(total))
    figures.append("human involvement: %s" % (
        "yes (escalated)" if human_involved(record) else "none"))
    lines.append("*Figures:* %s" % " · ".join(figures))
    for task in record.get("tasks") or []:
        lines.append("*Follow-up:* %s%s" % (task.get("title"), " (%s)" % task["url"]
                                            if task.get("url") else ""))
    if record.get("false_positive"):
        lines.append("*Marked as false positive:* %s" % (record.get("false_positive_reason")
                                                       or "no reason given"))
    link = st2_links.link(web_url, record.get("execution_id", ""), "StackStorm execution")
    if link:
        lines.append("*Execution:* %s" % link)
    timeline = [line.replace(FENCE, "'" * 3) for line in incidents.render_timeline(record)]
    if timeline:
        lines.append("*Timeline*\n```\n%s\n```" % "\n".join(timeline))
    return "\n".join(lines)


def _headline(record: Dict[str, Any]) -> str:
    status = record.get("status")
    subject = record.get("trigger_summary") or (record.get("root_cause") or {}).get(
        "summary") or "incident"
    if status == "resolved" and not human_involved(record) and real_executions(record):
        return ("Self-healed: %s" if verified(record) else "Remediated (not verified): %s") \
            % subject
    if status in ("remediating", "verifying"):
        return "%s: %s" % ("Remediating" if status == "remediating" else "Verifying", subject)
    if status == "escalated":
        return "Needs a human: %s" % subject
    return subject[:1].upper() + subject[1:]


def incident_line(record: Dict[str, Any]) -> str:
    """One line per incident for lists."""
    root = (record.get("root_cause") or {}).get("summary") or "?"
    return "`%s` %s %s · %s · %s · %s" % (
        record.get("id"), STATUS_ICON.get(record.get("status", ""), ""),
        record.get("status"), record.get("severity"), record.get("playbook") or "-", root)


def effectiveness(records: List[Dict[str, Any]], days: float,
                  now: Optional[float] = None) -> Dict[str, Any]:
    """The seed's metric list over incidents created in the last `days` days."""
    now = clock.now() if now is None else now
    since = now - days * 86400
    window = [r for r in records if r.get("created_at")
              and clock.parse_iso(r["created_at"]) >= since]
    detected = len(window)
    auto = [r for r in window if r.get("status") == "resolved" and not human_involved(r)
            and not r.get("false_positive")]
    escalated = [r for r in window if human_involved(r)]
    false_pos = [r for r in window if r.get("false_positive")]
    mttd = _mean([incidents.time_to_detect(r) for r in window if not r.get("false_positive")])
    mttr = _mean([incidents.time_to_remediate(r) for r in window
                  if r.get("status") == "resolved" and not r.get("false_positive")])
    genuine = [r for r in window if r.get("status") == "resolved" and not r.get("false_positive")]
    rollbacks = sum(1 for r in genuine for e in real_steps(r)
                    if e.get("action") in ROLLBACK_ACTIONS)
    cascades = sum(1 for r in genuine if (
        r.get("playbook") == "cascade_protection" or
        any(e.get("action") in CASCADE_ACTIONS for e in real_steps(r))))
    return {"days": days, "since": clock.isoformat(since),
            "incidents_detected": detected,
            "auto_remediated": len(auto), "auto_remediated_pct": _pct(len(auto), detected),
            "escalated": len(escalated), "escalated_pct": _pct(len(escalated), detected),
            "mttd_s": mttd, "mttr_s": mttr,
            "false_positives": len(false_pos),
            "false_positive_rate_pct": _pct(len(false_pos), detected),
            "successful_rollbacks": rollbacks, "prevented_cascades": cascades}


def effectiveness_text(m: Dict[str, Any]) -> str:
    days = m["days"]
    return "\n".join([
        "*Self-healing effectiveness, last %s day%s*" % (
            int(days) if float(days).is_integer() else days, "" if days == 1 else "s"),
        "• Incidents detected: %d" % m["incidents_detected"],
        "• Auto-remediated: %d (%s)" % (m["auto_remediated"], _pct_text(
            m["auto_remediated_pct"])),
        "• Escalated to humans: %d (%s)" % (m["escalated"], _pct_text(m["escalated_pct"])),
        "• Mean time to detect: %s" % incidents.duration_text(m["mttd_s"]),
        "• Mean time to remediate: %s" % incidents.duration_text(m["mttr_s"]),
        "• False-positive rate: %s" % _pct_text(m["false_positive_rate_pct"], 1),
        "• Successful rollbacks: %d" % m["successful_rollbacks"],
        "• Prevented cascading failures: %d" % m["prevented_cascades"],
    ])


def shadow(records: List[Dict[str, Any]]) -> Dict[str, Any]:
    """What the pack would have done: dry-run executes, and denials, from audit records."""
    would_execute, would_escalate, denied = [], [], []
    for rec in records:
        if rec.get("type") != "policy_decision":
            continue
        line = {"at": rec.get("at"), "playbook": rec.get("playbook"), "step": rec.get("step"),
                "risk": rec.get("risk"), "target": rec.get("target") or {},
                "incident_id": rec.get("incident_id"), "reason": rec.get("reason"),
                "check": rec.get("check"), "mode": rec.get("mode")}
        shadowed = (rec.get("decision") == "execute" and rec.get("dry_run")) or \
            (rec.get("check") == "mode" and rec.get("would") in ("execute", "escalate"))
        if shadowed:
            (would_escalate if rec.get("would") == "escalate" else would_execute).append(line)
        elif rec.get("decision") == "deny":
            denied.append(line)
    return {"would_execute": would_execute, "would_escalate": would_escalate,
            "denied": denied}


def shadow_text(report: Dict[str, Any], hours: float) -> str:
    lines = ["*Shadow report, last %g h:* %d step(s) would have run, %d would have needed a "
             "human, %d denied by policy" % (hours, len(report["would_execute"]),
                                             len(report["would_escalate"]),
                                             len(report["denied"]))]
    for title, key in (("Would run", "would_execute"), ("Would escalate", "would_escalate"),
                       ("Denied", "denied")):
        for item in report[key][-10:]:
            target = item["target"]
            lines.append("• %s %s: %s on %s %s%s (%s, risk %s)%s" % (
                incidents.hms(item["at"]) if item.get("at") else "--:--:--", title,
                item["step"], target.get("kind", "?"),
                (target.get("namespace") + "/") if target.get("namespace") else "",
                target.get("name", "?"), item["playbook"], item["risk"],
                "" if key == "would_execute" else " — %s" % item["reason"]))
    return "\n".join(lines)


def status_text(status: Dict[str, Any]) -> str:
    kill = status["kill_switch"]
    lines = ["*Self-healing status:* mode `%s`, max autonomous risk `%s`" % (
        status["mode"], status["max_autonomous_risk"])]
    lines.append("*Autonomy:* %s" % (
        ":octagonal_sign: paused by %s (%s)" % (kill.get("by") or "?", kill.get("reason") or "-")
        if kill.get("engaged") else ":large_green_circle: active"))
    lines.append("*Open incidents:* %d" % len(status["open_incidents"]))
    for record in status["open_incidents"][:10]:
        lines.append("• " + incident_line(record))
    budgets = status["budgets_left"]
    parts = []
    if "cordons" in budgets:
        parts.append("cordons %s" % budgets["cordons"])
    for kind in ("evictions", "rollbacks"):
        for ns, left in sorted(budgets.get(kind, {}).items()):
            parts.append("%s in %s %s" % (kind, ns, left))
    if budgets.get("storm_hold_until"):
        parts.append("storm hold until %s" % budgets["storm_hold_until"])
    lines.append("*Budgets left:* %s" % (", ".join(parts) or "all"))
    return "\n".join(lines)


def _mean(values: List[Optional[float]]) -> Optional[float]:
    numbers = [v for v in values if v is not None]
    return sum(numbers) / len(numbers) if numbers else None


def _pct(part: int, whole: int) -> Optional[float]:
    return round(100.0 * part / whole, 1) if whole else None


def _pct_text(value: Optional[float], digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return ("%." + str(digits) + "f%%") % value

"""The healer's own metrics, from the datastore, in Prometheus' text exposition format.

Everything is derived from what the pack already keeps in StackStorm's datastore (shared by
every StackStorm replica, surviving restarts): the audit trail (policy decisions, mutations),
the incident records, the kill switch, and the sensor's health record written after each poll.
Counters are kept as running totals in the datastore, advanced by one exporter run at a time
over audit records older than `LAG_S` (so records still being written are not skipped).
"""
from typing import Any, Dict, List, Optional, Tuple

from lib import audit, clock, incidents, policy

HEALTH_KEY = "self_healing.sensor.health"
TOTALS_KEY = "self_healing.metrics.totals"
LAG_S = 120.0
SOURCES = ("prometheus", "kubernetes")
DECISIONS = ("execute", "escalate", "deny")

Sample = Tuple[str, Dict[str, str], float]

HELP = {
    "self_healing_policy_decisions_total": ("counter", "Policy gate decisions by outcome."),
    "self_healing_actions_total": ("counter", "Changes made by the pack's actions."),
    "self_healing_incidents": ("gauge", "Incident records kept, by status."),
    "self_healing_poll_duration_seconds": ("gauge", "Duration of the sensor's last poll."),
    "self_healing_last_poll_timestamp_seconds": ("gauge", "When the sensor last polled."),
    "self_healing_poll_errors": ("gauge", "Detectors that failed in the last poll."),
    "self_healing_sensor_degraded": ("gauge", "1 while a data source is unusable."),
    "self_healing_kill_switch_engaged": ("gauge", "1 while autonomy is paused."),
    "self_healing_mode": ("gauge", "The configured mode (1 for the current one)."),
    "self_healing_metrics_timestamp_seconds": ("gauge", "When these metrics were computed."),
}


def record_poll(store: Any, started: float, finished: float, result: Any,
                outages: Dict[str, Any]) -> Dict[str, Any]:
    """The sensor's health record after one poll (`result` is a PollResult or None)."""
    health = {"at_epoch": finished, "at": clock.isoformat(finished),
              "duration_s": round(max(0.0, finished - started), 3),
              "failed": result is None,
              "errors": len(getattr(result, "errors", {}) or {}) if result is not None else 0,
              "degraded": sorted(outages or {})}
    store.set_json(HEALTH_KEY, health)
    return health


def advance_totals(store: Any, now: float) -> Dict[str, Any]:
    """Add audit records in [watermark, now - LAG_S) to the running totals; store them."""
    totals = store.get_json(TOTALS_KEY) or {}
    mark = float(totals.get("watermark", 0.0))
    upto = now - LAG_S
    decisions = dict(totals.get("decisions") or {})
    actions = dict(totals.get("actions") or {})
    for _key, record in audit.store_items(store, audit.AUDIT_PREFIX):
        if not isinstance(record, dict):
            continue
        at = float(record.get("at_epoch") or 0.0)
        if not mark <= at < upto:
            continue
        if record.get("type") == "policy_decision":
            name = str(record.get("decision") or "unknown")
            decisions[name] = decisions.get(name, 0) + 1
        elif record.get("type") == "mutation":
            name = "%s|%s" % (record.get("action") or "unknown",
                              "dry_run" if record.get("would") else "real")
            actions[name] = actions.get(name, 0) + 1
    totals = {"watermark": max(mark, upto), "decisions": decisions, "actions": actions}
    store.set_json(TOTALS_KEY, totals)
    return totals


def collect(store: Any, settings: Any, now: Optional[float] = None) -> List[Sample]:
    """Every sample, advancing the counters' totals."""
    now = clock.now() if now is None else now
    totals = advance_totals(store, now)
    samples: List[Sample] = []
    decisions = totals["decisions"]
    for name in sorted(set(DECISIONS) | set(decisions)):
        samples.append(("self_healing_policy_decisions_total", {"decision": name},
                        decisions.get(name, 0)))
    for key, count in sorted(totals["actions"].items()):
        action, mode = key.split("|", 1)
        samples.append(("self_healing_actions_total", {"action": action, "mode": mode}, count))
    counts = {status: 0 for status in incidents.STATUSES}
    for record in incidents.Incidents(store).all():
        status = record.get("status", "open")
        counts[status] = counts.get(status, 0) + 1
    for status, count in sorted(counts.items()):
        samples.append(("self_healing_incidents", {"status": status}, count))
    health = store.get_json(HEALTH_KEY)
    if isinstance(health, dict):
        samples.append(("self_healing_poll_duration_seconds", {},
                        float(health.get("duration_s") or 0.0)))
        samples.append(("self_healing_last_poll_timestamp_seconds", {},
                        float(health.get("at_epoch") or 0.0)))
        samples.append(("self_healing_poll_errors", {}, int(health.get("errors") or 0)
                        + (1 if health.get("failed") else 0)))
        degraded = set(health.get("degraded") or [])
        for source in sorted(set(SOURCES) | degraded):
            samples.append(("self_healing_sensor_degraded", {"source": source},
                            1 if source in degraded else 0))
    switch = store.get_json(policy.KILL_SWITCH_KEY) or {}
    samples.append(("self_healing_kill_switch_engaged", {}, 1 if switch.get("engaged") else 0))
    for mode in ("observe", "dry_run", "autonomous"):
        samples.append(("self_healing_mode", {"mode": mode}, 1 if settings.mode == mode else 0))
    samples.append(("self_healing_metrics_timestamp_seconds", {}, now))
    return samples


def _label_value(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def exposition(samples: List[Sample]) -> str:
    """Prometheus text format 0.0.4: HELP/TYPE once per family, then its samples."""
    lines: List[str] = []
    seen = set()
    for name, labels, value in samples:
        if name not in seen:
            seen.add(name)
            kind, text = HELP[name]
            lines += ["# HELP %s %s" % (name, text), "# TYPE %s %s" % (name, kind)]
        label_text = ",".join('%s="%s"' % (k, _label_value(v)) for k, v in sorted(labels.items()))
        number = ("%d" % value) if float(value).is_integer() and abs(value) < 1e15 \
            else repr(float(value))
        lines.append("%s%s %s" % (name, "{%s}" % label_text if label_text else "", number))
    return "\n".join(lines) + "\n"

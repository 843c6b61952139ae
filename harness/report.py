"""The story of a scenario run as people read it: the incident timeline in the seed's form
(`03:17:22 DETECT: ...`) and the demo's closing report (root cause, times, changes, outcome)."""
import math
from typing import Any, Dict, List, Optional


def _hms(iso_or_epoch: Any) -> str:
    from lib import clock

    from engine.timeparse import to_epoch
    try:
        return clock.isoformat(math.floor(to_epoch(iso_or_epoch)))[11:19]
    except (TypeError, ValueError):
        return "--:--:--"


def duration(seconds: Optional[float]) -> str:
    """The report's column form of the pack's durations (`4 min 05 s`)."""
    from lib import incidents

    return incidents.duration_text(seconds, columns=True)


def timeline_lines(incident: Dict[str, Any]) -> List[str]:
    """The seed's form: `03:17:22 DETECT: ...`."""
    lines = []
    for entry in incident.get("timeline") or []:
        message = str(entry.get("message", "")).strip()
        first, _, rest = message.partition("\n")
        lines.append("%s %s: %s" % (_hms(entry.get("at")), entry.get("type", "?"), first))
        for extra in rest.splitlines():
            lines.append("         %s" % extra)
    return lines


def render_report(result: Any) -> List[str]:
    out = ["", "=" * 78]
    out.append("scenario %s   mode %s   seed %s" % (result.scenario, result.mode, result.seed))
    out.append("=" * 78)
    if not result.incidents:
        out.append("no incident was opened")
    for incident in result.incidents:
        root = incident.get("root_cause") or {}
        target = root.get("target") or {}
        out.append("")
        out.append("incident %s  status %s  playbook %s  severity %s" % (
            incident.get("id"), incident.get("status"), incident.get("playbook"),
            incident.get("severity")))
        out.append("root cause: %s on %s %s%s" % (
            root.get("detector"), target.get("kind"), target.get("name"),
            (" (service %s)" % root.get("service")) if root.get("service") else ""))
        for reason in (incident.get("reasoning") or [])[:6]:
            out.append("  - %s" % reason)
        out.append("")
        out.extend(timeline_lines(incident))
    figures = result.figures
    out.append("")
    out.append("time to detect:    %s" % duration(figures.get("time_to_detect_s")))
    out.append("time to remediate: %s" % duration(figures.get("time_to_remediate_s")))
    if figures.get("time_to_verify_s") is not None:
        out.append("time to verify:    %s" % duration(figures.get("time_to_verify_s")))
    out.append("incident total:    %s" % duration(figures.get("total_s")))
    out.append("human involvement: %s" % figures.get("human_involvement"))
    changes = result.assessment["mutations"]
    out.append("cluster changes:   %s" % (", ".join(c.split(".", 1)[-1] for c in changes)
                                        or "none"))
    out.append("chat messages:     %d (%s)" % (len(result.chat), ", ".join(sorted(
        {m.get("channel", "?") for m in result.chat})) or "-"))
    verdict = "OK" if result.ok else "NOT OK"
    if result.mode == "autonomous":
        detail = "expected %s, observed %s" % (result.assessment["expected"],
                                               result.assessment["observed"])
    else:
        detail = "%s mode: no real change allowed; the scenario alone would %s" % (
            result.mode, result.assessment["expected"])
    out.append("outcome:           %s (%s)  [%.1f s real time]" % (verdict, detail,
                                                                   result.wall_s))
    for reason in result.assessment["reasons"]:
        out.append("  ! %s" % reason)
    for error in result.errors[:5]:
        out.append("  engine: %s" % error.splitlines()[0])
    for warning in result.output_warnings[:5]:
        out.append("  output_schema: %s" % warning)
    return out

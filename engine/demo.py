"""`python -m engine.demo`: replay a scenario on the twin and tell the incident's story.

    python -m engine.demo [--scenario NAME_OR_FILE] [--mode autonomous|dry_run|observe]
                          [--approve auto|deny|expire|ask|chat] [--seed N] [--quiet]
                          [--json FILE] [--list]

Exit status 0 when the run reaches the scenario's expected outcome, 1 otherwise, 2 on error.
"""
import argparse
import json
import math
import sys
import time
from typing import Any, Dict, List, Optional

DEFAULT_SCENARIO = "seed-0317-memory-leak"


def _hms(iso_or_epoch: Any) -> str:
    from engine.timeparse import to_epoch
    from lib import clock
    try:
        return clock.isoformat(math.floor(to_epoch(iso_or_epoch)))[11:19]
    except (TypeError, ValueError):
        return "--:--:--"


def duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return "n/a"
    seconds = int(round(seconds))
    if seconds < 60:
        return "%d s" % seconds
    return "%d min %02d s" % (seconds // 60, seconds % 60)


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


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.demo", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--scenario", default=DEFAULT_SCENARIO)
    parser.add_argument("--mode", default="autonomous",
                        choices=("autonomous", "dry_run", "observe"))
    parser.add_argument("--approve", default="auto",
                        choices=("auto", "approve", "deny", "expire", "ask", "chat"),
                        help="how core.ask Inquiries are answered: auto/approve, deny, expire "
                             "(no answer within the TTL), ask (prompt on this TTY), chat (an "
                             "operator types the pack's approve command in chat)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--json", help="also write the run summary to this file")
    parser.add_argument("--list", action="store_true", help="list the shipped scenarios")
    args = parser.parse_args(argv)
    if args.list:
        from twin.scenario import list_scenarios
        print("\n".join(list_scenarios()))
        return 0

    from engine.pack import Pack
    Pack().add_to_sys_path()
    from engine.replay import run_scenario

    out = sys.stdout  # actions' output is captured per execution; progress must bypass that

    def echo(text: str) -> None:
        if not args.quiet:
            out.write(text + "\n")
            out.flush()

    print("self_healing demo: scenario %s, mode %s (twin + Prometheus + NATS on loopback)"
          % (args.scenario, args.mode), flush=True)
    started = time.monotonic()
    try:
        result = run_scenario(args.scenario, mode=args.mode, seed=args.seed,
                              approve_policy=args.approve, echo=echo)
    except Exception as error:  # a broken setup: say what, exit 2
        print("demo failed: %s: %s" % (type(error).__name__, error), file=sys.stderr)
        return 2
    for line in render_report(result):
        print(line)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result.summary(), handle, indent=2, default=str)
    print("(%.1f s)" % (time.monotonic() - started))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())

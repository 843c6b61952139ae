"""`python -m harness.demo`: replay a scenario on the twin and tell the incident's story.

    python -m harness.demo [--scenario NAME_OR_FILE] [--mode autonomous|dry_run|observe]
                          [--approve auto|deny|expire|ask|chat] [--seed N] [--quiet]
                          [--json FILE] [--list]

Exit status 0 when the run reaches the scenario's expected outcome, 1 otherwise, 2 on error.
"""
import argparse
import json
import sys
import time
from typing import List, Optional

from harness.report import render_report

DEFAULT_SCENARIO = "seed-0317-memory-leak"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.demo", description=__doc__.split(
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
    from harness.replay import run_scenario

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

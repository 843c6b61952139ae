"""`make bench`: every scenario through the local engine, side by side with the baseline alerts.

For each scenario: detected or not, MTTD (fault onset -> first trigger of the root-cause detector),
MTTR (fault onset -> recovery verified), root cause found vs ground truth, actions, outcome vs
expected, false positive (a benign scenario that got a mutating action), and the first standard
kubernetes-mixin / node-mixin alert on the same Prometheus data and clock. Writes
build/bench/results.json and one PNG per scenario; prints the table and the goals.

    python -m bench.scenarios [--scenarios DIR] [--only NAME ...] [--out build/bench]
"""
import argparse
import logging
import glob
import json
import os
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Optional

from bench import baseline
from bench import recovery as recovery_check
from harness.outcome import epoch_or_none

SEED_FIGURES = {"mttd_s": 34.0, "mttr_s": 167.0, "auto_remediated_pct": 87.0,
                "false_positive_rate": 1.5}
OUTCOME_WORDS = {"remediate": "remediated", "escalate": "escalated", "none": "none",
                 "failed": "failed"}
SCRAPE_S = 15.0
POLL_S = 30.0


def _root_cause_label(cause: Optional[Dict[str, Any]]) -> Optional[str]:
    if not cause:
        return None
    target = cause.get("target") or {}
    return "%s %s/%s" % (cause.get("detector"), target.get("kind", ""), target.get("name", ""))


def _root_triggers(result: Any, truth: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Triggers of the ground truth's root cause (same matching as the engine's judgement:
    detector and target, a Deployment's pods for Pod truths, or the cause service)."""
    from harness import outcome
    found = []
    for trig in result.signal_triggers():
        payload = trig.get("payload") or {}
        if trig.get("rejected") or not payload.get("detector"):
            continue
        if outcome.root_cause_matches({"root_cause": payload}, truth):
            found.append(trig)
    return sorted(found, key=lambda t: float(t["at"]))


def _detection_latency(trigger: Dict[str, Any]) -> Optional[float]:
    """Seconds from when the condition began according to the data to its trigger."""
    began = epoch_or_none((trigger.get("payload") or {}).get("first_detected"))
    return round(float(trigger["at"]) - began, 1) if began is not None else None


# Predictive detectors: their first_detected is where the trend began (a leak's lowest
# point, a certificate's crossing of the warning horizon), long before it was worth acting
# on. Per detector: (runway field of the payload metadata, its unit in seconds, the config
# key of the act threshold the runway is compared with, that key's unit in seconds).
PREDICTIVE = {"memory_leak": ("time_to_oom_minutes", 60.0, "horizon_s", 1.0),
              "certificate_expiry": ("days_left", 86400.0, "days", 86400.0)}


def _actionable_latency(trigger: Dict[str, Any], config: Dict[str, Any],
                        watching_since: float) -> Optional[float]:
    """Seconds from when a predictive condition became actionable to its trigger: the
    runway at the trigger fell below the act threshold (threshold - runway) earlier, as a
    runway shrinks a second per second on a steady trend; and never before the pack was
    watching (a condition already actionable when it started is measured from its start).
    None for other detectors or without the figures."""
    payload = trigger.get("payload") or {}
    spec = PREDICTIVE.get(payload.get("detector") or "")
    if spec is None:
        return None
    field, unit, key, key_unit = spec
    runway = (payload.get("metadata") or {}).get(field)
    threshold = ((config.get("detectors") or {}).get(payload["detector"]) or {}).get(key)
    if runway is None or threshold is None:
        return None
    at = float(trigger["at"])
    actionable = at - max(0.0, float(threshold) * key_unit - float(runway) * unit)
    return round(at - max(actionable, watching_since), 1)


def _latencies(trigger: Optional[Dict[str, Any]], config: Dict[str, Any],
               watching_since: float) -> Dict[str, Any]:
    """The row's latency fields: from first_detected (every detector, as the payload says),
    from actionability (predictive detectors), and the headline (the latter for predictive
    detectors, the former for symptom detectors)."""
    if trigger is None:
        return {"detect_latency_s": None, "predictive": None, "actionable_latency_s": None,
                "headline_latency_s": None}
    predictive = (trigger.get("payload") or {}).get("detector") in PREDICTIVE
    raw = _detection_latency(trigger)
    actionable = _actionable_latency(trigger, config, watching_since) if predictive else None
    return {"detect_latency_s": raw, "predictive": predictive,
            "actionable_latency_s": actionable,
            "headline_latency_s": actionable if predictive else raw}


def _observed(result: Any) -> str:
    statuses = [inc.get("status") for inc in result.incidents]
    observed = OUTCOME_WORDS.get(result.assessment["observed"], result.assessment["observed"])
    if "failed" in statuses and observed != "remediated":
        return "failed"
    return observed


def _wait_for_recovery(truth: Dict[str, Any]) -> Callable[[Any, Any], bool]:
    """Stop check for a settled run: the ground truth's recovery must already hold (faults
    with an autonomous fix only; an escalation or a benign scenario has nothing to wait for)."""
    recovery = truth.get("recovery")

    def check(engine: Any, world: Any) -> bool:
        if not recovery or truth.get("expected_outcome") != "remediate":
            return True
        return recovery_check.holds_now(world.prometheus_direct_url, recovery,
                                        float(world.onset_epoch), world.clock.now(),
                                        float(world.scenario.step_s))
    return check


def _recovery(result: Any, truth: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    world = result.world
    try:
        return recovery_check.evaluate(world.prometheus_direct_url, truth.get("recovery"),
                                       float(result.onset_epoch), float(result.ended_at),
                                       float(world.scenario.step_s))
    except Exception as exc:  # noqa: BLE001 - an unanswerable recovery is not a recovery
        return {"recovered": False, "recovered_at": None, "error": str(exc)[:200]}


def _found_root(result: Any, truth: Dict[str, Any]) -> Dict[str, Any]:
    from harness import outcome
    for inc in result.incidents:
        if outcome.root_cause_matches(inc, truth):
            return {"label": _root_cause_label(inc.get("root_cause")), "correct": True}
    first = result.incidents[0] if result.incidents else None
    return {"label": _root_cause_label(first.get("root_cause")) if first else None,
            "correct": False}


def baseline_alerts(path: str) -> Dict[str, Optional[float]]:
    """First firing of each baseline alert on the same scenario left alone (no healer).

    Same seed, so the same data and clock as the pack's run up to the pack's first action;
    after it the pack's run differs (it fixed the problem), so the alerts are evaluated on the
    untouched twin, which is what a team without the healer would have seen.
    """
    from twin.world import World

    world = World.from_scenario(path, seed=0)
    try:
        world.start()
        world.run_to_end()
        return baseline.evaluate(world.prometheus_direct_url, world.start_epoch,
                                 world.end_epoch)
    finally:
        world.stop()


def run_one(path: str, out_dir: str, with_baseline: bool = True,
            with_plot: bool = True) -> Dict[str, Any]:
    """Replay one scenario in autonomous mode and measure it (the baseline alerts replay it a
    second time without the healer; the corpus skips that)."""
    from harness import outcome
    from harness.replay import run_scenario

    from twin.scenario import load_scenario
    truth = load_scenario(path).ground_truth
    result = run_scenario(path, mode="autonomous", seed=0, approve_policy="auto",
                          keep_world=True, stop_check=_wait_for_recovery(truth))
    world = result.world
    try:
        truth = result.ground_truth
        kind = truth.get("kind", "fault")
        onset = float(result.onset_epoch)
        root_triggers = _root_triggers(result, truth)
        first_trigger = float(root_triggers[0]["at"]) if root_triggers else None
        verified = outcome.metric_verified_at(result.incidents, result.executions)
        verdict = _recovery(result, truth) if kind == "fault" else None
        recovered = (verdict or {}).get("recovered_at")
        ends = outcome.incident_ends(result.incidents, result.executions,
                                     float(result.ended_at))
        alert_times = baseline_alerts(path) if with_baseline else {}
        after_onset = {k: v for k, v in alert_times.items() if v is not None and v >= onset}
        alert_name = min(after_onset, key=lambda k: after_onset[k]) if after_onset else None
        mutations = result.assessment["mutations"]
        found = _found_root(result, truth)
        observed = _observed(result)
        row = {
            "name": result.scenario, "kind": kind,
            "detected": first_trigger is not None if kind == "fault" else bool(
                result.signal_triggers()),
            "mttd_s": round(first_trigger - onset, 1) if first_trigger is not None else None,
            # MTTR: onset -> recovered (ground truth, on Prometheus) and verified (the pack's
            # own metric check); a run that stopped before recovery is not recovered, and an
            # escalation is no autonomous fix (no MTTR even when the metric came back)
            "mttr_s": round(max(verified, recovered) - onset, 1)
            if verified is not None and recovered is not None and observed == "remediated"
            else None,
            "recovered_s": round(recovered - onset, 1) if recovered is not None else None,
            "recovered": bool(verdict and verdict.get("recovered")) if kind == "fault"
            else None,
            "recovery": verdict,
            "incident_ends": ends,
            "incidents_left_open": sum(1 for e in ends if e["how"] is None),
            "incidents_not_ended_well": sum(1 for e in ends if not e["ok"]),
            "root_cause_expected": _root_cause_label(truth.get("root_cause")),
            "root_cause_found": found["label"],
            "root_cause_correct": found["correct"] if kind == "fault" else None,
            "expected_outcome": OUTCOME_WORDS.get(truth.get("expected_outcome", "none")),
            "outcome": observed,
            "actions": [m.split(".", 1)[-1] for m in mutations],
            "false_positive": kind == "benign" and bool(mutations),
            "baseline_alert": alert_name,
            "baseline_ttd_s": round(after_onset[alert_name] - onset, 1) if alert_name else None,
            "baseline_alerts_fired": sorted(after_onset),
            "ok": result.ok, "reasons": result.assessment["reasons"],
            "wall_s": round(result.wall_s, 2), "family": truth.get("family"),
        }
        row.update(_latencies(root_triggers[0] if root_triggers else None,
                              result.engine.config,
                              onset - float(world.scenario.lead_s)))
        if with_plot:
            try:
                from bench.plots import plot_scenario  # matplotlib: only when plotting
                row["plot"] = plot_scenario(result, row, out_dir)
            except Exception as exc:  # a plot must never hide the figures
                row["plot_error"] = str(exc)
        return row
    finally:
        world.stop()


def _headline(row: Dict[str, Any]) -> Optional[float]:
    """A row's headline latency (rows written before it existed: the raw one)."""
    return row.get("headline_latency_s", row.get("detect_latency_s"))


def _median(values: List[Optional[float]]) -> Optional[float]:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 1) if present else None


def summarise(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The summary block of results.json."""
    faults = [r for r in rows if r["kind"] == "fault"]
    benign = [r for r in rows if r["kind"] == "benign"]
    remediated = [r for r in faults if r["outcome"] == "remediated"]
    escalated = [r for r in faults if r["outcome"] == "escalated"]
    # recovery and MTTR are figures of autonomous fixes: an escalation whose metric came back
    # (e.g. a node kept cordoned for a human) is not a recovered fix
    fixable = [r for r in faults if r["expected_outcome"] == "remediated"]
    return {
        "scenarios": len(rows),
        "faults": len(faults), "benign": len(benign),
        "incidents_detected": sum(1 for r in faults if r["detected"]),
        "auto_remediated_pct": round(100.0 * len(remediated) / len(faults), 1) if faults else None,
        "escalated_pct": round(100.0 * len(escalated) / len(faults), 1) if faults else None,
        "false_positive_rate": round(100.0 * sum(1 for r in benign if r["false_positive"]) /
                                     len(benign), 1) if benign else None,
        "root_cause_accuracy": round(100.0 * sum(1 for r in faults if r["root_cause_correct"]) /
                                     len(faults), 1) if faults else None,
        "mttd_median_s": _median([r["mttd_s"] for r in faults]),
        "mttr_median_s": _median([r["mttr_s"] for r in fixable]),
        "detect_latency_median_s": _median([r.get("detect_latency_s") for r in faults]),
        # the goal's figure: symptom detectors from first_detected, predictive ones from
        # when their condition became actionable
        "headline_latency_median_s": _median([_headline(r) for r in faults]),
        "recovered_median_s": _median([r.get("recovered_s") for r in fixable]),
        "baseline_ttd_median_s": _median([r["baseline_ttd_s"] for r in faults]),
        "baseline_missed": sum(1 for r in faults if r["baseline_alert"] is None),
        "baseline_false_pages": sum(1 for r in benign if r["baseline_alert"]),
        "successful_rollbacks": sum(r["actions"].count("rollback_deployment") for r in remediated),
        "prevented_cascades": sum(1 for r in remediated
                                  if "configure_circuit_breaker" in r["actions"]),
        "outcomes_as_expected": sum(1 for r in rows if r["outcome"] == r["expected_outcome"]),
        "recovered": sum(1 for r in faults if r.get("recovered")),
        "recovery_expected": sum(1 for r in faults if r["expected_outcome"] == "remediated"),
        "recovered_of_expected": sum(1 for r in faults if r.get("recovered") and
                                     r["expected_outcome"] == "remediated"),
        "incidents": sum(len(r.get("incident_ends") or []) for r in rows),
        "incidents_left_open": sum(r.get("incidents_left_open") or 0 for r in rows),
        "incidents_not_ended_well": sum(r.get("incidents_not_ended_well") or 0 for r in rows),
    }


def goals(summary: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The issue's goals and whether each is met."""
    budget = SCRAPE_S + POLL_S
    mttd = summary["mttd_median_s"]
    mttr = summary["mttr_median_s"]
    return [
        {"goal": "every fault detected", "met":
         summary["incidents_detected"] == summary["faults"],
         "value": "%s/%s" % (summary["incidents_detected"], summary["faults"])},
        {"goal": "median MTTD <= %.0f s (scrape + poll)" % budget,
         "met": mttd is not None and mttd <= budget, "value": mttd},
        {"goal": "median detection latency <= %.0f s (condition in data, or actionable for "
                 "predictive detectors -> trigger)" % budget,
         "met": summary["headline_latency_median_s"] is not None and
         summary["headline_latency_median_s"] <= budget,
         "value": summary["headline_latency_median_s"]},
        {"goal": "median MTTR <= 120 s (onset -> recovery verified, incl. hold)",
         "met": mttr is not None and mttr <= 120, "value": mttr},
        {"goal": "median onset -> metrics recovered <= 120 s",
         "met": summary["recovered_median_s"] is not None and
         summary["recovered_median_s"] <= 120, "value": summary["recovered_median_s"]},
        {"goal": "root-cause accuracy 100%", "met": summary["root_cause_accuracy"] == 100.0,
         "value": summary["root_cause_accuracy"]},
        {"goal": "no false positive on benign scenarios",
         "met": summary["false_positive_rate"] in (0, 0.0, None),
         "value": summary["false_positive_rate"]},
        {"goal": "every autonomous fix recovered (ground truth on Prometheus)",
         "met": summary["recovered_of_expected"] == summary["recovery_expected"],
         "value": "%s/%s" % (summary["recovered_of_expected"], summary["recovery_expected"])},
        {"goal": "every incident ends (verified, escalated or false alarm, in time)",
         "met": summary["incidents_not_ended_well"] == 0,
         "value": "%s/%s not ended well, %s left open" % (
             summary["incidents_not_ended_well"], summary["incidents"],
             summary["incidents_left_open"])},
        {"goal": "every outcome as expected",
         "met": summary["outcomes_as_expected"] == summary["scenarios"],
         "value": "%s/%s" % (summary["outcomes_as_expected"], summary["scenarios"])},
    ]


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "%.0f" % value
    return str(value)


def print_table(rows: List[Dict[str, Any]], summary: Dict[str, Any],
                goal_rows: List[Dict[str, Any]]) -> None:
    header = ("%-30s %-6s %-4s %6s %5s %6s %6s %-4s %-10s %-10s %-24s %6s"
              % ("scenario", "kind", "det", "MTTD", "lat.", "recov", "MTTR", "RC", "expected",
                 "outcome", "baseline alert", "TTA"))
    print(header)
    print("-" * len(header))
    for r in rows:
        rc = "-" if r["root_cause_correct"] is None else ("ok" if r["root_cause_correct"]
                                                          else "NO")
        print("%-30s %-6s %-4s %6s %5s %6s %6s %-4s %-10s %-10s %-24s %6s" % (
            r["name"][:30], r["kind"], "yes" if r["detected"] else "no", _fmt(r["mttd_s"]),
            _fmt(_headline(r)), _fmt(r.get("recovered_s")), _fmt(r["mttr_s"]), rc,
            r["expected_outcome"],
            r["outcome"] + ("" if r["outcome"] == r["expected_outcome"] else "!"),
            (r["baseline_alert"] or "none")[:24], _fmt(r["baseline_ttd_s"])))
    print()
    print("MTTD: fault onset -> first root-cause trigger; lat.: condition visible in the data ->"
          " trigger\n(predictive detectors: condition actionable -> trigger);\n"
          "recov: onset -> ground_truth.recovery holding for good (Prometheus, after the"
          " run);\nMTTR: onset -> recovered and verified on a metric by the pack;\n"
          "TTA: onset -> first standard alert on the untouched twin (a human responds after"
          " that).\n")
    print("summary (virtual seconds)         pack      baseline alerts   seed's figures")
    print("  median time to detect           %-9s %-17s %s" % (
        _fmt(summary["mttd_median_s"]), _fmt(summary["baseline_ttd_median_s"]) + " (+human)",
        "34 s"))
    print("  median detection latency        %-9s %-17s %s" % (
        _fmt(summary["headline_latency_median_s"]), "-", "-"))
    print("    (from first_detected, predictive detectors from their trend's start: %s)" % (
        _fmt(summary["detect_latency_median_s"])))
    print("  median time to recover          %-9s %-17s %s" % (
        _fmt(summary["recovered_median_s"]), "human", "167 s"))
    print("  median time to verified         %-9s %-17s %s" % (
        _fmt(summary["mttr_median_s"]), "human", "-"))
    print("  auto-remediated                 %-9s %-17s %s" % (
        _fmt(summary["auto_remediated_pct"]) + "%", "0%", "87%"))
    print("  false positives (benign)        %-9s %-17s %s" % (
        _fmt(summary["false_positive_rate"]) + "%",
        "%d page(s)" % summary["baseline_false_pages"], "1.5%"))
    print("  faults missed                   %-9s %-17s" % (
        summary["faults"] - summary["incidents_detected"], summary["baseline_missed"]))
    print("  root-cause accuracy             %s%%" % _fmt(summary["root_cause_accuracy"]))
    print("  successful rollbacks %s, prevented cascades %s" % (
        summary["successful_rollbacks"], summary["prevented_cascades"]))
    print()
    print("goals")
    for g in goal_rows:
        print("  [%s] %-44s %s" % ("met" if g["met"] else "NOT MET", g["goal"],
                                   _fmt(g["value"])))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default="scenarios",
                        help="directory of scenario YAML files (default: scenarios)")
    parser.add_argument("--only", nargs="*", help="scenario names to run")
    parser.add_argument("--out", default=os.path.join("build", "bench"))
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    logging.basicConfig(filename=os.path.join(args.out, "bench.log"), level=logging.INFO,
                        force=True)  # the pack's own logs: kept, out of the table's way
    paths = sorted(glob.glob(os.path.join(args.scenarios, "*.yaml")) +
                   glob.glob(os.path.join(args.scenarios, "*.yml")))
    if args.only:
        paths = [p for p in paths if os.path.splitext(os.path.basename(p))[0] in args.only]
    if not paths:
        print("no scenario files in %s" % args.scenarios, file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    started = time.monotonic()
    rows = []
    for path in paths:
        name = os.path.splitext(os.path.basename(path))[0]
        print("running %-34s" % name, end="", flush=True)
        try:
            row = run_one(path, args.out)
        except Exception as exc:
            print(" ERROR %s" % exc)
            row = {"name": name, "kind": "unknown", "detected": False, "mttd_s": None,
                   "mttr_s": None, "root_cause_expected": None, "root_cause_found": None,
                   "root_cause_correct": False, "expected_outcome": None, "outcome": "failed",
                   "actions": [], "false_positive": False, "baseline_alert": None,
                   "baseline_ttd_s": None, "error": str(exc)}
        else:
            print(" %5.1f s real  %s" % (row["wall_s"], "ok" if row["ok"] else
                                         "; ".join(row["reasons"])))
        rows.append(row)
    summary = summarise(rows)
    goal_rows = goals(summary)
    summary["wall_s"] = round(time.monotonic() - started, 1)
    with open(os.path.join(args.out, "results.json"), "w") as handle:
        json.dump({"scenarios": rows, "summary": summary, "goals": goal_rows,
                   "seed_figures": SEED_FIGURES}, handle, indent=2, sort_keys=True)
    print()
    print_table(rows, summary, goal_rows)
    print("\nwrote %s and %d plot(s) in %.0f s real time" % (
        os.path.join(args.out, "results.json"), sum(1 for r in rows if r.get("plot")),
        summary["wall_s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make bench CORPUS=N`: N generated scenarios (scenarios/families) through the engine.

Writes each scenario and its row under build/bench/corpus/ (so that a corpus can be run in
pieces: `--start` skips the first scenarios, rows already present are kept and aggregated), and
build/bench/corpus.json: per family and overall recall, false-positive rate on benign scenarios
with a 95 % Wilson interval, root-cause accuracy, outcomes as expected, incidents left open or
not ended in time, and MTTD / detection latency / recovery / MTTR percentiles (detection
latency: symptom detectors from first_detected, predictive detectors - memory_leak,
certificate_expiry, whose first_detected is where their trend began - from when their
condition became actionable, reported apart and together as the headline).

    python -m bench.corpus [--count N] [--seed S] [--start K] [--family F ...]
                           [--out build/bench]
"""
import argparse
import glob
import json
import logging
import math
import os
import sys
import time
from typing import Any, Dict, List, Optional

import yaml

DEFAULT_COUNT = 44   # two of each of the 22 families: about 15 minutes here


def wilson(successes: int, total: int, z: float = 1.96) -> Optional[List[float]]:
    """95 % Wilson score interval of a proportion, in percent."""
    if total <= 0:
        return None
    p = successes / float(total)
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return [round(100 * max(0.0, centre - half), 2), round(100 * min(1.0, centre + half), 2)]


def percentile(values: List[Optional[float]], q: float) -> Optional[float]:
    present = sorted(v for v in values if v is not None)
    if not present:
        return None
    k = (len(present) - 1) * q
    low, high = int(math.floor(k)), int(math.ceil(k))
    return round(present[low] + (present[high] - present[low]) * (k - low), 1)


def _pct(part: int, whole: int) -> Optional[float]:
    return round(100.0 * part / whole, 1) if whole else None


def headline_latency(row: Dict[str, Any]) -> Optional[float]:
    """A fault's detection latency for the goal: a predictive detector's from when its
    condition became actionable, a symptom detector's from first_detected (rows written
    before the distinction: the raw figure)."""
    if "headline_latency_s" in row:
        return row["headline_latency_s"]
    return row.get("detect_latency_s")


def figures(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The corpus figures for a set of rows (overall or one family)."""
    faults = [r for r in rows if r.get("kind") == "fault"]
    benign = [r for r in rows if r.get("kind") == "benign"]
    fixable = [r for r in faults if r.get("expected_outcome") == "remediated"]
    fp = sum(1 for r in benign if r.get("false_positive"))
    out = {
        "scenarios": len(rows), "faults": len(faults), "benign": len(benign),
        "errors": sum(1 for r in rows if r.get("error")),
        "recall_pct": _pct(sum(1 for r in faults if r.get("detected")), len(faults)),
        "false_positives": fp,
        "false_positive_rate_pct": _pct(fp, len(benign)),
        "false_positive_rate_ci95_pct": wilson(fp, len(benign)),
        "root_cause_accuracy_pct": _pct(sum(1 for r in faults if r.get("root_cause_correct")),
                                        len(faults)),
        "outcomes_as_expected": sum(1 for r in rows
                                    if r.get("outcome") == r.get("expected_outcome")),
        "recovered_of_fixable": "%d/%d" % (sum(1 for r in fixable if r.get("recovered")),
                                           len(fixable)),
        "incidents": sum(len(r.get("incident_ends") or []) for r in rows),
        "incidents_left_open": sum(r.get("incidents_left_open") or 0 for r in rows),
        "incidents_not_ended_well": sum(r.get("incidents_not_ended_well") or 0 for r in rows),
    }
    symptom = [r for r in faults if not r.get("predictive")]
    predictive = [r for r in faults if r.get("predictive")]
    for key, values in (("mttd_s", [r.get("mttd_s") for r in faults]),
                        # from first_detected as the payload says (a predictive detector's is
                        # the start of its trend)
                        ("detect_latency_s", [r.get("detect_latency_s") for r in faults]),
                        ("symptom_latency_s", [r.get("detect_latency_s") for r in symptom]),
                        # predictive detectors from when their condition became actionable
                        ("predictive_latency_s",
                         [r.get("actionable_latency_s") for r in predictive]),
                        # the goal's figure: symptom detectors plus predictive-from-actionable
                        ("headline_latency_s", [headline_latency(r) for r in faults]),
                        ("recovered_s", [r.get("recovered_s") for r in fixable]),
                        ("mttr_s", [r.get("mttr_s") for r in fixable])):
        out[key] = {"p50": percentile(values, 0.5), "p90": percentile(values, 0.9),
                    "n": sum(1 for v in values if v is not None)}
    return out


def aggregate(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    families = sorted({r.get("family") or "?" for r in rows})
    return {"overall": figures(rows),
            "families": {f: figures([r for r in rows if (r.get("family") or "?") == f])
                         for f in families},
            "failures": [{"name": r["name"], "family": r.get("family"),
                          "reasons": r.get("reasons") or [r.get("error")],
                          "not_ended_well": [e for e in r.get("incident_ends") or []
                                             if not e.get("ok")]}
                         for r in rows if not r.get("ok") or r.get("incidents_not_ended_well")]}


def _row_error(name: str, raw: Dict[str, Any], exc: Exception) -> Dict[str, Any]:
    truth = raw.get("ground_truth") or {}
    return {"name": name, "family": truth.get("family"), "kind": truth.get("kind"),
            "expected_outcome": {"remediate": "remediated", "escalate": "escalated"}.get(
                truth.get("expected_outcome"), "none"),
            "detected": False, "outcome": "error", "ok": False, "error": str(exc)[:300]}


def main(argv: Optional[List[str]] = None) -> int:
    from bench.scenarios import run_one
    from scenarios.families import corpus

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", type=int, default=0, help="skip the first K scenarios")
    parser.add_argument("--out", default=os.path.join("build", "bench"))
    parser.add_argument("--family", nargs="*", default=[],
                        help="only these families (round-robin over them)")
    args = parser.parse_args(argv)
    base = os.path.join(args.out, "corpus")
    scen_dir, row_dir = os.path.join(base, "scenarios"), os.path.join(base, "rows")
    os.makedirs(scen_dir, exist_ok=True)
    os.makedirs(row_dir, exist_ok=True)
    logging.basicConfig(filename=os.path.join(base, "corpus.log"), level=logging.INFO,
                        force=True)
    started = time.monotonic()
    for index, raw in enumerate(corpus(args.count, args.seed, tuple(args.family))):
        if index < args.start:
            continue
        path = os.path.join(scen_dir, raw["name"] + ".yaml")
        with open(path, "w") as handle:
            yaml.safe_dump(raw, handle, sort_keys=False, width=100)
        print("[%d/%d] %-44s" % (index + 1, args.count, raw["name"]), end="", flush=True)
        try:
            row = run_one(path, base, with_baseline=False, with_plot=False)
        except Exception as exc:  # a crash is a failed scenario, never a skipped one
            row = _row_error(raw["name"], raw, exc)
        row["seed"] = args.seed
        with open(os.path.join(row_dir, raw["name"] + ".json"), "w") as handle:
            json.dump(row, handle, indent=1, sort_keys=True, default=str)
        print(" %5.1f s  %s" % (row.get("wall_s") or 0, "ok" if row.get("ok") else
                                "; ".join(str(x) for x in row.get("reasons") or
                                          [row.get("error")])[:160]))
    rows = []
    for name in sorted(glob.glob(os.path.join(row_dir, "*.json"))):
        with open(name) as handle:
            rows.append(json.load(handle))
    report = aggregate(rows)
    report["wall_s_this_piece"] = round(time.monotonic() - started, 1)
    report["command"] = "python -m bench.corpus " + " ".join(argv or sys.argv[1:])
    with open(os.path.join(args.out, "corpus.json"), "w") as handle:
        json.dump(report, handle, indent=2, sort_keys=True)
    print_report(report)
    return 0


def print_report(report: Dict[str, Any]) -> None:
    head = "%-28s %4s %4s %7s %6s %6s %7s %5s %5s %7s %7s %7s" % (
        "family", "n", "err", "recall", "FP", "RC%", "as-exp", "open", "late", "MTTD50",
        "lat50", "recov50")
    print("\n" + head + "\n" + "-" * len(head))
    for name, fig in sorted(report["families"].items()) + [("OVERALL", report["overall"])]:
        print("%-28s %4d %4d %7s %6s %6s %7s %5d %5d %7s %7s %7s" % (
            name[:28], fig["scenarios"], fig["errors"], fig["recall_pct"],
            fig["false_positives"] if fig["benign"] else "-", fig["root_cause_accuracy_pct"],
            "%d/%d" % (fig["outcomes_as_expected"], fig["scenarios"]),
            fig["incidents_left_open"], fig["incidents_not_ended_well"],
            fig["mttd_s"]["p50"], fig["headline_latency_s"]["p50"], fig["recovered_s"]["p50"]))
    o = report["overall"]
    print("\nFP rate on benign %s%% (95%% CI %s), root cause %s%%, recovered %s, "
          "MTTD p50/p90 %s/%s s, recovered p50/p90 %s/%s s, MTTR p50 %s s" % (
              o["false_positive_rate_pct"], o["false_positive_rate_ci95_pct"],
              o["root_cause_accuracy_pct"], o["recovered_of_fixable"], o["mttd_s"]["p50"],
              o["mttd_s"]["p90"], o["recovered_s"]["p50"], o["recovered_s"]["p90"],
              o["mttr_s"]["p50"]))
    print("detection latency p50 (lat50): %s s over %d faults = symptom detectors from "
          "first_detected (p50 %s s, n %d) + predictive detectors from when their condition "
          "became actionable (p50 %s s, n %d); predictive from their trend's start instead: "
          "all faults p50 %s s" % (
              o["headline_latency_s"]["p50"], o["headline_latency_s"]["n"],
              o["symptom_latency_s"]["p50"], o["symptom_latency_s"]["n"],
              o["predictive_latency_s"]["p50"], o["predictive_latency_s"]["n"],
              o["detect_latency_s"]["p50"]))


if __name__ == "__main__":
    sys.exit(main())

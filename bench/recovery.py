"""Evaluate a scenario's `ground_truth.recovery` on the twin's Prometheus after a run.

The condition is evaluated at every step from the onset to the end of the run (range query);
recovery is the start of the last uninterrupted run of good evaluations, provided it lasted the
truth's `hold` before the run stopped (harness.outcome.recovery_from).
"""
from typing import Any, Dict, List, Optional, Tuple

import requests

from harness import outcome


def query_range(url: str, query: str, start: float, end: float, step: float
                ) -> List[Tuple[float, List[float]]]:
    """[(time, [value per series])] for every step in [start, end]."""
    response = requests.get(url.rstrip("/") + "/api/v1/query_range", timeout=30, params={
        "query": query, "start": "%.3f" % start, "end": "%.3f" % end, "step": "%.3f" % step})
    response.raise_for_status()
    body = response.json()
    if body.get("status") != "success":
        raise RuntimeError("query_range failed: %s" % body.get("error"))
    per_time: Dict[float, List[float]] = {}
    for series in body["data"]["result"]:
        for at, value in series.get("values") or []:
            per_time.setdefault(float(at), []).append(float(value))
    times = []
    at = start
    while at <= end + 1e-6:
        times.append(round(at, 3))
        at += step
    return [(t, _near(per_time, t)) for t in times]


def _near(per_time: Dict[float, List[float]], at: float) -> List[float]:
    for key, values in per_time.items():
        if abs(key - at) < 0.01:
            return values
    return []


def evaluate(url: str, recovery: Optional[Dict[str, Any]], start: float, end: float,
             step: float) -> Optional[Dict[str, Any]]:
    """The recovery verdict for one run, or None when the scenario names no recovery."""
    if not recovery:
        return None
    samples = query_range(url, recovery["query"], start, end, step)
    held = outcome.condition_series(samples, recovery["comparator"],
                                    float(recovery["threshold"]))
    verdict = outcome.recovery_from(held, float(recovery.get("hold_s") or 0), end)
    verdict["evaluated"] = len(held)
    return verdict


def holds_now(url: str, recovery: Optional[Dict[str, Any]], start: float, end: float,
              step: float) -> bool:
    """True when the recovery already held for its hold (used to stop a run early)."""
    try:
        verdict = evaluate(url, recovery, start, end, step)
    except Exception:  # noqa: BLE001 - an unanswerable query is not a recovery
        return False
    return bool(verdict and verdict["recovered"])

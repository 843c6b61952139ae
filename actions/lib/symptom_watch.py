"""Keep watching a young symptom before acting on it without a conclusive cause.

A symptom detector fires early when the harm now is large (lib.detectors.poller), so a burst
that heals by itself can open an incident. With no cause that explains it (no deploy to roll
back, no cause playbook to hand over to), the playbook watches the symptom's own recovery
query until the symptom has lasted the detector's full persistence (`for_s`, what the
standard alert's `for:` asks): if it clears and stays clear for `hold_s` first, nothing is
changed and nobody is paged."""
from typing import Any, Callable, Dict, List, Optional

from lib import clock, condition_wait


def watch_window_s(for_s: float, first_detected: Optional[float], now: float,
                   hold_s: float) -> float:
    """Seconds left to watch: until the symptom is `for_s` old (counted from its onset), and
    never less than `hold_s` while any is left (a clearing needs its hold to count); 0 once the
    symptom is as old as its full persistence."""
    if first_detected is None:
        return max(0.0, float(for_s))
    left = float(first_detected) + float(for_s) - now
    if left <= 0:
        return 0.0
    return max(left, float(hold_s))


def watch(query_fn: Callable[[str], List[Any]], query: str, threshold: float, for_s: float,
          first_detected: Optional[float], hold_s: float = 60.0,
          poll_s: float = 15.0) -> Dict[str, Any]:
    """{state: cleared | persists | blind, watched_s, value, ...}: cleared when the recovery
    query stayed below `threshold` for `hold_s` within the watch window; blind when
    Prometheus did not answer for the whole window (never read as cleared)."""
    window = watch_window_s(for_s, first_detected, clock.now(), hold_s)
    if window <= 0:
        return {"state": "persists", "watched_s": 0.0, "value": None, "window_s": 0.0,
                "reason": "the symptom already lasted its full persistence (%.0f s)" % for_s}
    result = condition_wait.wait(query_fn, query, "<", float(threshold), float(hold_s),
                                 window, float(poll_s), blind_s=window)
    state = "cleared" if result["met"] else ("blind" if result["blind"] else "persists")
    return {"state": state, "watched_s": result["waited_s"], "value": result["value"],
            "window_s": round(window, 3), "reason": _reason(state, result, hold_s)}


def _reason(state: str, result: Dict[str, Any], hold_s: float) -> str:
    if state == "cleared":
        return "cleared by itself: below its threshold for %.0f s, after %.0f s of watching" % (
            hold_s, result["waited_s"])
    if state == "blind":
        return "could not watch: Prometheus did not answer (%s)" % result["last_error"]
    return "still there after %.0f s of watching (last value %s)" % (
        result["waited_s"], result["value"])

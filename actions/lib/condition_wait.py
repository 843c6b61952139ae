"""Wait for a PromQL condition to hold for a duration (errors, NaN and empty are not success)."""
import math
import operator
from typing import Any, Callable, Dict, List, Optional

from lib import clock

COMPARATORS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
               "==": operator.eq, "!=": operator.ne}
MAX_SAMPLES = 100


def evaluate(query_fn: Callable[[str], List[Any]], query: str, comparator: str,
             threshold: float) -> Dict[str, Any]:
    """One poll: every returned series must satisfy `value <comparator> threshold`."""
    try:
        samples = query_fn(query)
    except Exception as error:  # a failed query is never a success
        return {"ok": False, "value": None, "series": 0, "error": str(error)[:300],
                "unanswered": True}
    values = [float(s.value) for s in samples]
    values = [v for v in values if not math.isnan(v) and not math.isinf(v)]
    if not values:
        return {"ok": False, "value": None, "series": 0, "error": "no data"}
    compare = COMPARATORS[comparator]
    worst = _worst(values, comparator)
    return {"ok": all(compare(v, threshold) for v in values), "value": worst,
            "series": len(values), "error": ""}


def _worst(values: List[float], comparator: str) -> float:
    """The value furthest from satisfying the condition (reported as `value`)."""
    if comparator in ("<", "<="):
        return max(values)
    if comparator in (">", ">="):
        return min(values)
    return values[0]


def wait(query_fn: Callable[[str], List[Any]], query: str, comparator: str, threshold: float,
         hold_s: float, timeout_s: float, poll_s: float,
         blind_s: float = 0.0) -> Dict[str, Any]:
    """Poll until the condition held `hold_s` seconds in a row, or `timeout_s` passes.

    With `blind_s` > 0 the wait also gives up once every query for `blind_s` seconds failed
    (Prometheus down or erroring): a verification that cannot see says so instead of waiting
    out its timeout blind (`blind: True` in the result)."""
    start = clock.now()
    blind_since: Optional[float] = None
    blind = False
    first_met: Optional[float] = None
    samples: List[Dict[str, Any]] = []
    last: Dict[str, Any] = {"ok": False, "value": None, "error": "not evaluated"}
    met = False
    while True:
        now = clock.now()
        last = evaluate(query_fn, query, comparator, threshold)
        samples.append({"at": clock.isoformat(now), "value": last["value"], "ok": last["ok"],
                        "error": last["error"]})
        if last["ok"]:
            first_met = now if first_met is None else first_met
            if now - first_met >= hold_s:
                met = True
                break
        else:
            first_met = None
        if last.get("unanswered"):
            blind_since = now if blind_since is None else blind_since
            if blind_s > 0 and now - blind_since >= blind_s:
                blind = True
                break
        else:
            blind_since = None
        remaining = timeout_s - (clock.now() - start)
        if remaining <= 0:
            break
        clock.sleep(min(poll_s, remaining) if poll_s > 0 else min(1.0, remaining))
    return {"met": met, "blind": blind, "value": last["value"], "last_error": last["error"],
            "blind_s": round(clock.now() - blind_since, 3) if blind_since is not None else 0.0,
            "first_met_at": clock.isoformat(first_met) if first_met is not None else "",
            "held_s": round(clock.now() - first_met, 3) if first_met is not None else 0.0,
            "waited_s": round(clock.now() - start, 3), "polls": len(samples),
            "samples": samples[-MAX_SAMPLES:]}

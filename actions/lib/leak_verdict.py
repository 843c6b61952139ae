"""The memory_leak playbook's verdict: is a service's memory growth a leak or a warm-up?

Reads the container's working set of every pod of the service from Prometheus over
`lookback_s` and judges each current pod's curve since its lowest point (lib.curve_fit: a line
or an approach to a plateau). The previous version's pods (those of `previous_rs`, from before
the deploy) are the reference: when one was seen from its start, its value at the current
pods' age and whether it then plateaued are compared (the same curve at the same age that
plateaued: the new version is warming up the same way); when none was seen from its start, the
plateau it held is compared with the current pods' projected plateau. `same_rise` alone (the
reference rose as much at the same ages, plateau or not) is what tells, after a rollback, that
the restored version's fresh pods grow just as the rolled-back version's did.

verdict:
- "warmup": every growing pod approaches a plateau below its limit, or the pods follow the
  previous version's curve, which plateaued below the limit;
- "leak": growth that reaches the limit (runway_min from the retained model), with
  `conclusive` when the memory is already well above what the previous version held;
- "no_growth": no current pod is growing;
- "unknown": no usable history (nothing to judge on).
"""
from typing import Any, Dict, List, Optional, Tuple

from lib import curve_fit

# Same curve: the previous version's value at the same age within this ratio of the new one.
SAME_CURVE_RATIO = 1.2
# Conclusive: the new version already uses this much more than the previous version held.
CONCLUSIVE_RATIO = 1.2
Points = List[Tuple[float, float]]


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _at_age(points: Points, age: float) -> Optional[float]:
    """The value of a curve (aged from its first point) at `age`, linearly interpolated."""
    start = points[0][0]
    for (t1, v1), (t2, v2) in zip(points, points[1:]):
        if t1 - start <= age <= t2 - start:
            return v1 if t2 == t1 else v1 + (v2 - v1) * (age - (t1 - start)) / (t2 - t1)
    return None


def judge_service(prom: Any, namespace: str, container: str, previous_rs: str = "",
                  lookback_s: float = 7200, step_s: float = 60) -> Dict[str, Any]:
    sel = 'namespace="%s",container="%s"' % (_label(namespace), _label(container))
    series = prom.query_range("container_memory_working_set_bytes{%s}" % sel, lookback_s,
                              step_s)
    limits = {s.labels.get("pod", ""): s.value for s in prom.query(
        'kube_pod_container_resource_limits{resource="memory",%s}' % sel)}
    if not series:
        return {"verdict": "unknown", "runway_min": None, "conclusive": False, "pods": [],
                "previous": {}, "reason": "no memory history for %s/%s" % (namespace,
                                                                             container)}
    latest = max(s.points[-1][0] for s in series if s.points)
    query_start = latest - lookback_s
    prefix = previous_rs + "-" if previous_rs else None
    current, previous = [], []
    for s in series:
        if len(s.points) < 2:
            continue
        pod = s.labels.get("pod", "")
        if prefix and pod.startswith(prefix):
            previous.append(s)
        elif latest - s.points[-1][0] <= 3 * step_s:
            current.append(s)
    pods = []
    for s in current:
        pod = s.labels.get("pod", "")
        low = min(range(len(s.points)), key=lambda i: s.points[i][1])
        growing = s.points[low:]
        judged = curve_fit.judge(growing, limits.get(pod))
        pods.append({"pod": pod, "verdict": judged["verdict"], "model": judged["model"],
                     "age_s": s.points[-1][0] - s.points[0][0], "usage": s.points[-1][1],
                     "limit": limits.get(pod), "asymptote": judged.get("asymptote_upper"),
                     "runway_s": judged["time_to_limit_s"], "points": s.points})
    prev = _previous(previous, pods, limits, query_start, step_s)
    result = _combine(pods, prev)
    for row in pods:
        del row["points"]
    result["pods"] = pods
    result["previous"] = prev
    return result


def _previous(previous: List[Any], pods: List[Dict[str, Any]], limits: Dict[str, float],
              query_start: float, step_s: float) -> Dict[str, Any]:
    """What the previous version's pods say: the plateau they held and, for those seen from
    their start, whether they rose the same way at the same ages (a third, two thirds and all
    of the current pods' age) and then plateaued."""
    if not previous:
        return {"seen": False}
    plateau = max(max(v for _, v in s.points) for s in previous)
    out: Dict[str, Any] = {"seen": True, "plateau": plateau, "same_curve": None,
                           "same_rise": None, "compared": 0}
    fresh = [s for s in previous if s.points[0][0] - query_start > step_s]
    verdicts, rises = [], []
    for row in pods:
        ours = row["points"]
        age = ours[-1][0] - ours[0][0]
        for s in fresh:
            if _at_age(s.points, age) is None:
                continue  # the previous pod did not live that long
            rises.append(_same_rise(ours, s.points, age))
            verdicts.append(rises[-1] and _plateaued(
                s.points, limits.get(s.labels.get("pod", "")) or row["limit"]))
    if verdicts:
        out.update(same_curve=all(verdicts), same_rise=all(rises), compared=len(verdicts))
    return out


def _same_rise(ours: Points, theirs: Points, age: float) -> bool:
    """Both curves rose by about as much (within SAME_CURVE_RATIO, or within 2 % of the
    level) at a third, two thirds and all of `age`."""
    base_ours, base_theirs = ours[0][1], theirs[0][1]
    for part in (age / 3, 2 * age / 3, age):
        a, b = _at_age(ours, part), _at_age(theirs, part)
        if a is None or b is None:
            return False
        rise_a, rise_b = a - base_ours, b - base_theirs
        if abs(rise_a - rise_b) <= 0.02 * max(a, b):
            continue
        if rise_a <= 0 or rise_b <= 0 or max(rise_a, rise_b) > SAME_CURVE_RATIO * min(
                rise_a, rise_b):
            return False
    return True


def _plateaued(points: Points, limit: Optional[float]) -> bool:
    """The whole curve approached a plateau below the limit, or stopped growing."""
    low = min(range(len(points)), key=lambda i: points[i][1])
    judged = curve_fit.judge(points[low:], limit)
    return judged["verdict"] in ("warmup", "unknown") or (
        judged["verdict"] == "saturating" and judged["time_to_limit_s"] is None)


def _combine(pods: List[Dict[str, Any]], prev: Dict[str, Any]) -> Dict[str, Any]:
    growing = [p for p in pods if p["verdict"] not in ("unknown",)]
    leaking = [p for p in growing if p["verdict"] in ("linear", "saturating")
               and p["runway_s"] is not None]
    out: Dict[str, Any] = {"conclusive": False, "runway_min": None}
    if not pods:
        out.update(verdict="unknown", reason="no current pod has a memory history")
        return out
    if not growing:
        out.update(verdict="no_growth", reason="no pod's memory is growing")
        return out
    if prev.get("seen") and leaking and max(p["usage"] for p in leaking) > \
            CONCLUSIVE_RATIO * prev["plateau"]:
        worst = min(leaking, key=lambda p: p["runway_s"])
        out.update(verdict="leak", conclusive=True, runway_min=round(worst["runway_s"] / 60, 1),
                   pod=worst["pod"], reason="%s uses %.0f MiB, more than %.1fx the %.0f MiB "
                   "its previous version held" % (worst["pod"], worst["usage"] / 2 ** 20,
                                                  CONCLUSIVE_RATIO, prev["plateau"] / 2 ** 20))
        return out
    if not leaking:
        out.update(verdict="warmup", reason="every growing pod approaches a plateau below its "
                   "limit (%s)" % ", ".join("%s: %s MiB" % (
                       p["pod"], "?" if p["asymptote"] is None else
                       "%.0f" % (p["asymptote"] / 2 ** 20)) for p in growing))
        return out
    if prev.get("same_curve"):
        out.update(verdict="warmup", reason="the pods follow the previous version's curve at "
                   "the same age (within %.1fx), which plateaued at %.0f MiB" % (
                       SAME_CURVE_RATIO, prev["plateau"] / 2 ** 20))
        return out
    worst = min(leaking, key=lambda p: p["runway_s"])
    out.update(verdict="leak", runway_min=round(worst["runway_s"] / 60, 1), pod=worst["pod"],
               reason="%s grows towards its limit (%s model): OOM in %.1f min" % (
                   worst["pod"], worst["model"], worst["runway_s"] / 60))
    return out

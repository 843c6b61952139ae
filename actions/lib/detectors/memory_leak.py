"""memory_leak: container memory growing linearly towards its limit (time to OOM)."""
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from lib import curve_fit
from lib.detectors.base import MAX_TARGETS, Detector, fmt, selector, service_of_pod
from lib.signals import Signal, make_target

KEY = ("namespace", "pod", "container")
ON = "on(namespace, pod, container)"
MIN_R_SQUARED = 0.8
# Sustained linear growth: each third of the growth rises at least this fast relative to the
# whole (a warm-up slows down in its last third, a one-off step such as loading a model is
# flat in its first or last third).
MIN_PART_SLOPE_RATIO = 0.5
# ... and the last third at least this fast relative to the first (no deceleration).
MIN_LAST_TO_FIRST_RATIO = 0.7


class MemoryLeakDetector(Detector):
    """Sustained linear growth of a container's working set that reaches its limit soon.

    The seed's rule: rate = `deriv(container_memory_working_set_bytes[window])` > 0;
    time_to_oom = (memory limit - usage) / rate; fire when under `horizon_s`. Filtering is
    done in PromQL: `predict_linear` over the window reaching the limit within the horizon
    (one read of each series, a quarter of the pods per poll; those found are re-checked
    every poll), then the seed's figures for those candidates only. A warm-up
    that plateaus must not fire, so for those candidates the growth (from the lowest point
    of the window to now) must last at least `min_history_s`, fit a line (R^2 >= 0.8), and
    each third of it must rise at least half as fast as the whole, the last at least 0.7x as
    fast as the first: a warm-up decelerates, a one-off step (a model being loaded) is flat
    before or after the step. Then the growth is fitted both as a line and as an exponential
    approach to a plateau (lib.curve_fit): when the plateau model fits significantly better
    and even its upper bound stays below the limit with a margin, it is a warm-up and does not
    fire; when its plateau could reach the limit, the OOM is projected on that model (and must
    still fall within the horizon). Onset: the lowest point of the working set in the window
    (where the growth began). Severity: high (as in the seed).
    """

    name = "memory_leak"
    kind = "Pod"
    freshness_query = "time() - max(timestamp(container_memory_working_set_bytes))"

    def _base_selector(self) -> str:
        base = 'container!="",container!="POD"'
        namespaces = list(self.cfg["namespaces"])
        if namespaces:
            base += "," + selector({}, namespace=namespaces)
        return base

    def candidate_query(self, shard: str = "") -> str:
        """PromQL: containers (of one pod shard) whose working set, projected linearly over
        `window`, reaches the memory limit within `horizon_s` (two reads per container:
        usage history and limit). The seed's exact figures are then computed for these."""
        sel = self._base_selector() + ("," + shard if shard else "")
        mem = "container_memory_working_set_bytes{%s}" % sel
        limit = 'kube_pod_container_resource_limits{resource="memory",%s}' % sel
        return "topk(%d, predict_linear(%s[%ds], %d) - %s (%s > 0) > 0)" % (
            4 * MAX_TARGETS, mem, self.duration("window"), int(self.cfg["horizon_s"]), ON,
            limit)

    def detect(self, now: float) -> List[Signal]:
        query = self.candidate_query(self.next_shard())
        candidates = {tuple(s.labels.get(k, "") for k in KEY) for s in self.prom.query(query)}
        candidates |= getattr(self, "_carry", set())
        self._carry: Set[Tuple[str, ...]] = set()
        if not candidates:
            return []
        window = self.duration("window")
        sel = selector({}, pod=[k[1] for k in candidates])
        rates = _by_key(self.prom.query(
            "deriv(container_memory_working_set_bytes{%s}[%ds]) > 0" % (sel, window)))
        limit_samples = self.prom.query(
            'kube_pod_container_resource_limits{resource="memory",%s}' % sel)
        limits = _by_key(limit_samples)
        nodes = {tuple(s.labels.get(k, "") for k in KEY): s.labels.get("node", "")
                 for s in limit_samples}
        history: Dict[Tuple[str, ...], List[Tuple[float, float]]] = {}
        for series in self.prom.query_range(
                "container_memory_working_set_bytes{%s}" % sel, window, 60):
            history[tuple(series.labels.get(k, "") for k in KEY)] = series.points
        signals = []
        for key in sorted(candidates):
            rate, limit = rates.get(key), limits.get(key)
            points = history.get(key, [])
            if rate is None or rate <= 0 or limit is None or not points:
                continue
            if (limit - points[-1][1]) / rate >= int(self.cfg["horizon_s"]):
                continue  # the seed's rule on the latest sample
            onset = self._growth_onset(points)
            if onset is None:
                continue
            curve = curve_fit.judge([p for p in points if p[0] >= onset], limit)
            runway = None
            if curve["model"] == "saturating":
                # the approach to a plateau fits clearly better than the line: a plateau
                # below the limit is a warm-up; above it, that model projects the OOM
                runway = curve["time_to_limit_s"]
                if curve["verdict"] == "warmup" or runway is None or \
                        runway >= int(self.cfg["horizon_s"]):
                    continue
            usage = points[-1][1]
            node = nodes.get(key, "")
            signals.append(self._signal(key, node, usage, limit, rate, onset, query, now,
                                        curve, runway))
            self._carry.add(key)
        return signals

    def _growth_onset(self, points: Sequence[Tuple[float, float]]) -> Optional[float]:
        """Start of the growth if the history is long enough and the growth is linear."""
        if points[-1][0] - points[0][0] < int(self.cfg["min_history_s"]):
            return None
        low = min(range(len(points)), key=lambda i: points[i][1])
        growing = points[low:]
        start, end = growing[0][0], growing[-1][0]
        if len(growing) < 6 or end - start < int(self.cfg["min_history_s"]):
            return None
        if r_squared(growing) < MIN_R_SQUARED:
            return None
        overall = slope(growing)
        if overall <= 0:
            return None
        third = (end - start) / 3.0
        slopes = []
        for index in range(3):
            part = [p for p in growing
                    if start + index * third <= p[0] <= start + (index + 1) * third]
            if len(part) < 2:
                return None
            slopes.append(slope(part))
        if min(slopes) < MIN_PART_SLOPE_RATIO * overall:
            return None
        if slopes[2] < MIN_LAST_TO_FIRST_RATIO * slopes[0]:
            return None
        return start

    def _signal(self, key: Tuple[str, ...], node: str, usage: float, limit: float,
                rate: float, onset: float, query: str, now: float,
                curve: Optional[Dict[str, Any]] = None,
                runway: Optional[float] = None) -> Signal:
        namespace, pod, container = key
        time_to_oom = max(0.0, limit - usage) / rate if runway is None else runway
        curve = curve or {}
        mb_per_min = rate * 60 / 1024 / 1024
        usage_pct = usage / limit * 100 if limit else 0.0
        summary = ("memory leak in %s/%s (%s): +%s MB/min, OOM in %s min (%s%% of limit)" % (
            namespace, pod, container, fmt(mb_per_min, 2), fmt(time_to_oom / 60),
            fmt(usage_pct, 0)))
        return Signal(
            detector=self.name, target=make_target("Pod", pod, namespace, node),
            service=service_of_pod(pod, container), severity="high",
            first_detected=onset, detected_at=now, summary=summary,
            evidence={"query": query, "values": {"rate_bytes_per_s": round(rate, 3),
                                                 "usage_bytes": usage,
                                                 "limit_bytes": limit}},
            metadata={"growth_rate_mb_per_min": round(mb_per_min, 3),
                      "time_to_oom_minutes": round(time_to_oom / 60, 2),
                      "current_usage_pct": round(usage_pct, 2),
                      "limit_bytes": limit, "usage_bytes": usage, "container": container,
                      "curve_model": curve.get("model", "linear"),
                      "curve_verdict": curve.get("verdict", ""),
                      "asymptote_bytes": curve.get("asymptote_upper"),
                      "tau_s": curve.get("tau_s")})


def _by_key(samples) -> Dict[Tuple[str, ...], float]:
    return {tuple(s.labels.get(k, "") for k in KEY): s.value for s in samples}


def slope(points: Sequence[Tuple[float, float]]) -> float:
    """Least-squares slope (value per second)."""
    n = float(len(points))
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    stt = sum((t - mean_t) ** 2 for t, _ in points)
    if stt == 0:
        return 0.0
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / stt


def r_squared(points: Sequence[Tuple[float, float]]) -> float:
    """Coefficient of determination of a least-squares line through the points."""
    n = float(len(points))
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    stt = sum((t - mean_t) ** 2 for t, _ in points)
    svv = sum((v - mean_v) ** 2 for _, v in points)
    stv = sum((t - mean_t) * (v - mean_v) for t, v in points)
    if stt == 0 or svv == 0:
        return 0.0
    return (stv * stv) / (stt * svv)

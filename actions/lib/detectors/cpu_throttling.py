"""cpu_throttling: share of CFS periods in which a container was throttled."""
from typing import List, Optional

from lib.detectors.base import (LOAD_SURGE_RATIO, MAX_TARGETS, Detector, fmt, selector,
                                service_of_pod)
from lib.signals import Signal, make_target

BY = "namespace, pod, container, node"
RATIO = ("sum by(%(by)s) (increase(container_cpu_cfs_throttled_periods_total{%(sel)s}[%(w)s]))"
         " / (sum by(%(by)s) (increase(container_cpu_cfs_periods_total{%(sel)s}[%(w)s]))"
         " > %(min)g)")
# the same share between the last two scrapes: whether the throttling still goes on
RATIO_LAST = ("sum by(%(by)s) (irate(container_cpu_cfs_throttled_periods_total{%(sel)s}[%(w)s]))"
              " / (sum by(%(by)s) (irate(container_cpu_cfs_periods_total{%(sel)s}[%(w)s])) > 0)")


class CpuThrottlingDetector(Detector):
    """increase(throttled periods) / increase(periods) over `window` above `ratio`.

    Containers that ran fewer than window_s/10 CFS periods (about 1% of the possible) are
    ignored: a nearly idle container's ratio is noise. Each poll scans a quarter of the pods
    (by name) and re-checks those already found. A service in a traffic surge (request
    rate >= 1.5x its baseline hour) is skipped: that throttling is load for the autoscaler.
    Onset: first sample of the current
    run above the ratio. Severity: high when at least half of the periods were throttled,
    otherwise medium; neither shortens the persistence (for_s), as the standard alert's
    `for:` does not.
    """

    name = "cpu_throttling"
    kind = "Pod"
    # the severity is the window's ratio; throttling alone is no harm to measure (what it
    # costs users, latency_anomaly measures): the full persistence, always
    severity_is_current = False
    freshness_query = "time() - max(timestamp(container_cpu_cfs_periods_total))"

    def _ratio(self, sel: str) -> str:
        window = self.duration("window")
        return RATIO % {"by": BY, "sel": sel, "w": self.cfg["window"], "min": window / 10.0}

    def holds_now(self, signal: Signal) -> Optional[bool]:
        """Whether the last scrape interval's share is still above the ratio (None when that
        interval ran no CFS periods)."""
        last = signal.metadata.get("throttled_ratio_last")
        if last is None:
            return None
        return float(last) > float(self.cfg["ratio"])

    def detect(self, now: float) -> List[Signal]:
        threshold = float(self.cfg["ratio"])
        base = 'container!="",container!="POD"'
        query = "topk(%d, %s > %g)" % (MAX_TARGETS, self._ratio(
            base + "," + self.next_shard()), threshold)
        found = {(s.labels.get("namespace", ""), s.labels.get("pod", ""),
                  s.labels.get("container", "")): s for s in self.prom.query(query)}
        carry = getattr(self, "_carry", set()) - set(found)
        if carry:
            again = "%s > %g" % (self._ratio(base + "," + selector({}, pod=[
                k[1] for k in carry])), threshold)
            for sample in self.prom.query(again):
                key = (sample.labels.get("namespace", ""), sample.labels.get("pod", ""),
                       sample.labels.get("container", ""))
                if key in carry:
                    found[key] = sample
        self._carry = set(found)
        if not found:
            return []
        sel = base + "," + selector({}, pod=[k[1] for k in found])
        onsets = self.onsets("%s > %g" % (self._ratio(sel), threshold),
                             ["namespace", "pod", "container"], 1800, now)
        last = {(x.labels.get("namespace", ""), x.labels.get("pod", ""),
                 x.labels.get("container", "")): x.value
                for x in self.prom.query(RATIO_LAST % {"by": BY, "sel": sel,
                                                       "w": self.cfg["window"]})}
        loads = self.load_ratios([service_of_pod(k[1], k[2]) for k in found],
                                 self.cfg["window"])
        signals = []
        for key, sample in sorted(found.items()):
            namespace, pod, container = key
            ratio = sample.value
            ratio_last = last.get(key)
            if ratio_last is not None and ratio_last != ratio_last:   # NaN: no periods
                ratio_last = None
            load = loads.get((namespace, service_of_pod(pod, container)))
            if load is not None and load >= LOAD_SURGE_RATIO:
                continue
            signals.append(Signal(
                detector=self.name,
                target=make_target("Pod", pod, namespace, sample.labels.get("node", "")),
                service=service_of_pod(pod, container),
                severity="high" if ratio >= 0.5 else "medium",
                first_detected=onsets.get(key), detected_at=now,
                summary="cpu throttling of %s/%s (%s): %s%% of CFS periods throttled" % (
                    namespace, pod, container, fmt(ratio * 100, 0)),
                evidence={"query": query, "values": {"throttled_ratio": round(ratio, 4)}},
                metadata={"throttled_ratio": round(ratio, 4), "container": container,
                          "throttled_ratio_last": (None if ratio_last is None
                                                   else round(ratio_last, 4)),
                          "threshold_ratio": threshold,
                          "load_ratio": None if load is None else round(load, 3)}))
        return signals

"""latency_anomaly: a service's p99 far above its own recent baseline."""
from typing import Any, Dict, Optional

from lib.detectors.base import LOAD_SURGE_RATIO, excess_ratio, fmt
from lib.detectors.service_symptom import ServiceKey, ServiceSymptomDetector, Symptom
from lib.signals import Signal


class LatencyAnomalyDetector(ServiceSymptomDetector):
    """p99 in ms (histogram_quantile over the configured HTTP source's request-duration
    buckets, lib.metric_presets: Istio's by default; a seconds histogram is scaled) over `window`,
    compared with the same service's p99 over `baseline_window` one baseline window ago
    (`[1h] offset 1h`: an anomaly cannot contaminate its own baseline for an hour). Fires when
    p99 >= `min_p99_ms` and p99 / baseline > `ratio`, unless the service's request rate is
    in a surge (>= 1.5x its baseline hour): queueing under a traffic surge is load for the
    autoscaler, not an anomaly. A service without a baseline never fires.
    Onset: first sample of the current run above the ratio. Severity: high when p99 is at
    least 4x the baseline, otherwise medium (read off the window, it shortens nothing).
    Harm (which shortens the persistence asked before firing): the latency added over the
    baseline in the last scrape interval relative to the threshold's.
    """

    name = "latency_anomaly"

    source_kind = "http"
    source_field = "latency_bucket"

    def _p99(self, sel: str, window: str, offset: str = "") -> str:
        return self.source.p99_ms(sel, window, offset)

    def _ratio(self, sel: str) -> str:
        current = self._p99(sel, self.cfg["window"])
        baseline = self._p99(sel, self.cfg["baseline_window"], self.cfg["baseline_window"])
        return "(%s >= %g) / on(%s) (%s > 0)" % (current, float(self.cfg["min_p99_ms"]),
                                                 self.source.by, baseline)

    def harm(self, signal: Signal) -> Optional[float]:
        """The latency added over the baseline now relative to what the threshold allows
        (p99 / baseline - 1) / (ratio - 1): 2 at a 3x p99 with the default 2x ratio. Now:
        the p99 between the last two scrapes, as the window's p99 holds a passed pause for
        minutes; the window's when the last interval had no requests to tell."""
        ratio = signal.metadata.get("ratio_last")
        if ratio is None:
            ratio = signal.metadata.get("ratio")
        return excess_ratio(ratio, float(self.cfg["ratio"]), 1.0)

    def condition(self, sel: str) -> str:
        return "%s > %g" % (self._ratio(sel), float(self.cfg["ratio"]))

    def details(self, sel: str, found: Dict[ServiceKey, float]) -> Dict[str, Any]:
        """The window's p99, the last scrape interval's, and the services' load ratios
        (traffic surges)."""
        return {"p99": self.per_service(self._p99(sel, self.cfg["window"])),
                "recent": self.per_service(self.source.p99_ms(sel, self.cfg["window"],
                                                              fn="irate")),
                "load": self.load_ratios([k[1] for k in found], self.cfg["window"],
                                         self.cfg["baseline_window"])}

    def symptom(self, key: ServiceKey, ratio: float,
                details: Dict[str, Any]) -> Optional[Symptom]:
        namespace, service = key
        p99 = details["p99"].get(key)
        if p99 is None:
            return None
        baseline = p99 / ratio
        recent = details.get("recent", {}).get(key)
        ratio_last = None if recent is None or recent != recent else recent / baseline
        load = details["load"].get(key)
        if load is not None and load >= LOAD_SURGE_RATIO:
            return None
        return Symptom(
            severity="high" if ratio >= 4 else "medium",
            summary="latency anomaly on %s/%s: p99 %s ms, %sx its baseline %s ms" % (
                namespace, service, fmt(p99, 0), fmt(ratio), fmt(baseline, 0)),
            values=_values(p99, baseline, None if ratio_last is None else recent),
            metadata={"p99_ms": round(p99, 2), "baseline_p99_ms": round(baseline, 2),
                      "ratio": round(ratio, 3),
                      "ratio_last": None if ratio_last is None else round(ratio_last, 3),
                      "load_ratio": None if load is None else round(load, 3)})


def _values(p99: float, baseline: float, recent: Optional[float]) -> Dict[str, float]:
    """Evidence values: the window's p99, its baseline and, when there were requests, the
    last scrape interval's p99."""
    values = {"p99_ms": round(p99, 2), "baseline_p99_ms": round(baseline, 2)}
    if recent is not None:
        values["p99_last_ms"] = round(recent, 2)
    return values

"""error_rate: a service's 5xx ratio above its SLO (with its own baseline for context)."""
from typing import Any, Dict, Optional

from lib.detectors.base import excess_ratio, fmt
from lib.detectors.service_symptom import ServiceKey, ServiceSymptomDetector, Symptom
from lib.signals import Signal


class ErrorRateDetector(ServiceSymptomDetector):
    """Failed (5xx) / all requests over `window` above `slo_error_ratio`, for services with
    at least `min_requests_per_s`, from the configured HTTP metric source (lib.metric_presets:
    Istio reporter=destination by default). The baseline (the same ratio over the hour one
    hour ago) is reported, not required: a failure that lasts longer than an hour must not
    look "normal". Onset: first sample of the current run above the SLO. Severity: critical
    at 50% errors, high at 20% or 5x the baseline, otherwise medium. Harm (which shortens
    the persistence asked before firing): the last scrape interval's ratio in SLOs.
    """

    name = "error_rate"

    source_kind = "http"
    source_field = "requests"

    def _ratio(self, sel: str, window: str, offset: str = "", min_rps: float = 0.0,
               fn: str = "rate") -> str:
        errors = self.source.rate("errors", sel, window, offset, fn=fn)
        total = self.source.rate("requests", sel, window, offset, fn=fn)
        return "%s / on(%s) (%s > %g)" % (errors, self.source.by, total, min_rps)

    def harm(self, signal: Signal) -> Optional[float]:
        """The 5xx ratio between the last two scrapes in SLOs (a healthy service fails
        nothing): how bad it is now. The window's ratio lags a fresh fault by minutes (5 %
        over 5 min is 25 % over its last minute) and still holds a burst that has passed.
        The window's ratio when the last interval had too little traffic to tell."""
        values = signal.evidence.get("values") or {}
        ratio = values.get("error_ratio_last", signal.metadata.get("error_ratio"))
        return excess_ratio(ratio, float(self.cfg["slo_error_ratio"]))

    def condition(self, sel: str) -> str:
        return "%s > %g" % (self._ratio(sel, self.cfg["window"],
                                        min_rps=float(self.cfg["min_requests_per_s"])),
                            float(self.cfg["slo_error_ratio"]))

    def details(self, sel: str, found: Dict[ServiceKey, float]) -> Dict[str, Any]:
        """The baseline ratio (the hour one hour ago) and the last scrape interval's."""
        min_rps = float(self.cfg["min_requests_per_s"])
        return {"baseline": self.per_service(self._ratio(sel, "1h", "1h")),
                "recent": self.per_service(self._ratio(sel, self.cfg["window"],
                                                       min_rps=min_rps, fn="irate"))}

    def symptom(self, key: ServiceKey, ratio: float,
                details: Dict[str, Any]) -> Optional[Symptom]:
        namespace, service = key
        slo = float(self.cfg["slo_error_ratio"])
        baseline = details["baseline"].get(key)
        if ratio >= 0.5:
            severity = "critical"
        elif ratio >= 0.2 or (baseline is not None and ratio >= 5 * max(baseline, 1e-3)):
            severity = "high"
        else:
            severity = "medium"
        return Symptom(
            severity=severity,
            summary="error rate of %s/%s: %s%% 5xx (SLO %s%%, baseline %s%%)" % (
                namespace, service, fmt(ratio * 100), fmt(slo * 100),
                fmt(None if baseline is None else baseline * 100)),
            values=_values(ratio, details["recent"].get(key)),
            metadata={"error_ratio": round(ratio, 4),
                      "baseline_error_ratio": (None if baseline is None
                                               else round(baseline, 4)),
                      "slo_error_ratio": slo})


def _values(ratio: float, recent: Optional[float]) -> Dict[str, float]:
    """Evidence values: the window's ratio and, when there was traffic, the last scrape
    interval's."""
    values = {"error_ratio": round(ratio, 4)}
    if recent is not None:
        values["error_ratio_last"] = round(recent, 4)
    return values

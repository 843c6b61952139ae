"""error_rate: a service's 5xx ratio above its SLO (with its own baseline for context)."""
from typing import List

from lib.detectors.base import MAX_TARGETS, Detector, fmt, selector
from lib.signals import Signal, make_target

BY = "destination_workload, destination_workload_namespace"
LABELS = ["destination_workload_namespace", "destination_workload"]
RATE = ('sum by(%(by)s) (rate(istio_requests_total{reporter="destination"%(sel)s}'
        "[%(w)s]%(off)s))")


class ErrorRateDetector(Detector):
    """5xx / all requests over `window` (Istio, reporter=destination) above
    `slo_error_ratio`, for services with at least `min_requests_per_s`. The baseline (the
    same ratio over the hour one hour ago) is reported, not required: a failure that
    lasts longer than an hour must not look "normal". Onset: first sample of the current run
    above the SLO. Severity: critical at 50% errors, high at 20% or 5x the baseline,
    otherwise medium.
    """

    name = "error_rate"
    kind = "Service"
    freshness_query = ('time() - max(timestamp(istio_requests_total{reporter="destination"}))')

    def _ratio(self, sel: str, window: str, offset: str = "", min_rps: float = 0.0) -> str:
        errors = RATE % {"by": BY, "sel": ',response_code=~"5.."' + sel, "w": window,
                         "off": (" offset " + offset) if offset else ""}
        total = RATE % {"by": BY, "sel": sel, "w": window,
                        "off": (" offset " + offset) if offset else ""}
        return "%s / on(%s) (%s > %g)" % (errors, BY, total, min_rps)

    def detect(self, now: float) -> List[Signal]:
        slo = float(self.cfg["slo_error_ratio"])
        min_rps = float(self.cfg["min_requests_per_s"])
        query = "topk(%d, %s > %g)" % (MAX_TARGETS, self._ratio("", self.cfg["window"],
                                                               min_rps=min_rps), slo)
        found = {tuple(s.labels.get(k, "") for k in LABELS): s.value
                 for s in self.prom.query(query)}
        found.pop(("", ""), None)
        if not found:
            return []
        sel = "," + selector({}, destination_workload=[k[1] for k in found])
        baselines = {tuple(s.labels.get(k, "") for k in LABELS): s.value
                     for s in self.prom.query(self._ratio(sel, "1h", "1h"))}
        onsets = self.onsets("%s > %g" % (self._ratio(sel, self.cfg["window"],
                                                      min_rps=min_rps), slo),
                             LABELS, 1800, now)
        signals = []
        for key, ratio in sorted(found.items()):
            namespace, service = key
            baseline = baselines.get(key)
            if ratio >= 0.5:
                severity = "critical"
            elif ratio >= 0.2 or (baseline is not None and ratio >= 5 * max(baseline, 1e-3)):
                severity = "high"
            else:
                severity = "medium"
            signals.append(Signal(
                detector=self.name, target=make_target("Service", service, namespace),
                service=service, severity=severity, first_detected=onsets.get(key, now),
                detected_at=now,
                summary="error rate of %s/%s: %s%% 5xx (SLO %s%%, baseline %s%%)" % (
                    namespace, service, fmt(ratio * 100), fmt(slo * 100),
                    fmt(None if baseline is None else baseline * 100)),
                evidence={"query": query, "values": {"error_ratio": round(ratio, 4)}},
                metadata={"error_ratio": round(ratio, 4),
                          "baseline_error_ratio": (None if baseline is None
                                                   else round(baseline, 4)),
                          "slo_error_ratio": slo}))
        return signals

"""The shape shared by the per-service symptom detectors (error rate, latency): one condition
query over every service, detail reads for the services it found, onsets, one signal each."""
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from lib.detectors.base import MAX_TARGETS, SourcedDetector
from lib.signals import Signal, make_target

# (namespace, service), as the metric source's key() gives it.
ServiceKey = Tuple[str, str]
# How far back the onset of a condition's current run is looked for.
ONSET_LOOKBACK_S = 1800


class Symptom(NamedTuple):
    """What one detector says of one service: the parts of its signal that are its own."""

    severity: str
    summary: str
    values: Dict[str, Any]  # evidence values (next to the query)
    metadata: Dict[str, Any]


class ServiceSymptomDetector(SourcedDetector):
    """Per service of the configured metric source: `condition(sel)` (PromQL returning, while
    the condition holds, one series per service whose value is the measure) over every
    service, topk'd to MAX_TARGETS; `details(sel, found)` reads what the signals need for the
    services found; onsets come from the condition over those services; `symptom()` turns
    each service's measure and details into its Symptom, or None to skip it. Every signal
    carries the main query as evidence, the Service target and the onset."""

    kind = "Service"
    # severities come from the window's measure, which still holds a passed burst
    severity_is_current = False

    def condition(self, sel: str) -> str:
        """The condition query over the services matched by `sel` ("": all)."""
        raise NotImplementedError

    def details(self, sel: str, found: Dict[ServiceKey, float]) -> Dict[str, Any]:
        """Named per-service reads ({name: {key: value}}) for the services found."""
        return {}

    def symptom(self, key: ServiceKey, measure: float,
                details: Dict[str, Any]) -> Optional[Symptom]:
        """The Symptom of one service found, or None when it must not fire."""
        raise NotImplementedError

    def per_service(self, promql: str) -> Dict[ServiceKey, float]:
        """{(namespace, service): value} of an instant query."""
        return {self.source.key(s.labels): s.value for s in self.prom.query(promql)}

    def detect(self, now: float) -> List[Signal]:
        query = "topk(%d, %s)" % (MAX_TARGETS, self.condition(""))
        found = self.per_service(query)
        found.pop(("", ""), None)
        if not found:
            return []
        sel = self.source.services(k[1] for k in found)
        details = self.details(sel, found)
        onsets = self.onsets(self.condition(sel), self.source.labels, ONSET_LOOKBACK_S, now)
        signals = []
        for key, measure in sorted(found.items()):
            symptom = self.symptom(key, measure, details)
            if symptom is None:
                continue
            namespace, service = key
            signals.append(Signal(
                detector=self.name, target=make_target("Service", service, namespace),
                service=service, severity=symptom.severity, first_detected=onsets.get(key),
                detected_at=now, summary=symptom.summary,
                evidence={"query": query, "values": symptom.values},
                metadata=symptom.metadata))
        return signals

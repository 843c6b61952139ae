"""The shared per-service symptom shape (lib.detectors.service_symptom): which queries it asks
in which order, which services it keeps, and the signal fields it fills in itself."""
from typing import Any, Dict, List, Optional

from lib.detectors.base import MAX_TARGETS, ONSET_STEP_S
from lib.detectors.error_rate import ErrorRateDetector
from lib.detectors.latency_anomaly import LatencyAnomalyDetector
from lib.detectors.service_symptom import (ONSET_LOOKBACK_S, ServiceKey,
                                           ServiceSymptomDetector, Symptom)
from lib.prom import Sample, Series
from support.detector_fakes import settings

NOW = 1795835842.0


class RecordingProm(object):
    """Answers instant queries from `answers` (query -> [(namespace, service, value)]) and
    every range query with one run per (namespace, service) in `runs` (its start time)."""

    def __init__(self, answers: Dict[str, List[Any]], runs: Dict[ServiceKey, float]) -> None:
        self.answers = answers
        self.runs = runs
        self.log: List[Any] = []

    def query(self, promql: str) -> List[Sample]:
        self.log.append(("query", promql))
        return [Sample({"destination_workload_namespace": ns, "destination_workload": svc},
                       value, NOW) for ns, svc, value in self.answers.get(promql, [])]

    def query_range(self, promql: str, lookback_s: float, step_s: float) -> List[Series]:
        self.log.append(("range", promql, lookback_s, step_s))
        result = []
        for (ns, svc), start in self.runs.items():
            points = []
            t = start
            while t <= NOW:
                points.append((t, 1.0))
                t += step_s
            result.append(Series({"destination_workload_namespace": ns,
                                  "destination_workload": svc}, points))
        return result


class Toy(ServiceSymptomDetector):
    """Fires on every service above 1 whose detail "extra" is known."""

    name = "error_rate"  # borrows a catalogue entry for its settings

    def condition(self, sel: str) -> str:
        return "cond{%s} > 1" % sel

    def details(self, sel: str, found: Dict[ServiceKey, float]) -> Dict[str, Any]:
        self.seen = (sel, dict(found))
        return {"extra": self.per_service("extra{%s}" % sel)}

    def symptom(self, key: ServiceKey, measure: float,
                details: Dict[str, Any]) -> Optional[Symptom]:
        extra = details["extra"].get(key)
        if extra is None:
            return None
        return Symptom("high", "%s/%s at %g" % (key[0], key[1], measure),
                       {"measure": measure}, {"extra": extra})


def _toy(answers: Dict[str, List[Any]], runs: Dict[ServiceKey, float]) -> Any:
    prom = RecordingProm(answers, runs)
    return Toy(settings(), prom), prom


def test_main_query_then_details_then_onsets_over_the_services_found():
    main = "topk(%d, cond{} > 1)" % MAX_TARGETS
    det, prom = _toy({main: [("a", "s2", 3.0), ("a", "s1", 2.0), ("", "", 9.0)]}, {})
    det.detect(NOW)
    sel = det.source.services(["s1", "s2"])
    assert det.seen == (sel, {("a", "s1"): 2.0, ("a", "s2"): 3.0})  # ("", "") dropped
    assert prom.log == [("query", main), ("query", "extra{%s}" % sel),
                        ("range", "cond{%s} > 1" % sel, ONSET_LOOKBACK_S, ONSET_STEP_S)]


def test_nothing_found_asks_nothing_more():
    det, prom = _toy({"topk(%d, cond{} > 1)" % MAX_TARGETS: [("", "", 4.0)]}, {})
    assert det.detect(NOW) == []
    assert len(prom.log) == 1


def test_signals_sorted_by_service_with_target_onset_and_query_and_skips_none():
    main = "topk(%d, cond{} > 1)" % MAX_TARGETS
    det, _ = _toy({main: [("b", "s2", 3.0), ("a", "s1", 2.0), ("a", "s3", 5.0)]},
                  {("a", "s1"): NOW - 300})
    sel = det.source.services(["s1", "s2", "s3"])
    det.prom.answers["extra{%s}" % sel] = [("a", "s1", 7.0), ("b", "s2", 8.0)]
    signals = det.detect(NOW)
    assert [(s.target["namespace"], s.service) for s in signals] == [("a", "s1"), ("b", "s2")]
    first = signals[0]
    assert first.detector == "error_rate"
    assert first.target == {"kind": "Service", "namespace": "a", "name": "s1", "node": ""}
    assert first.first_detected == NOW - 300
    assert first.detected_at == NOW
    assert (first.severity, first.summary) == ("high", "a/s1 at 2")
    assert first.evidence == {"query": main, "values": {"measure": 2.0}}
    assert first.metadata == {"extra": 7.0}
    assert (first.onset_known, signals[1].onset_known) == (True, False)  # s2 had no run
    assert signals[1].first_detected == NOW


def test_error_rate_and_latency_use_the_shared_shape():
    for cls in (ErrorRateDetector, LatencyAnomalyDetector):
        assert issubclass(cls, ServiceSymptomDetector)
        assert cls.kind == "Service"
        assert cls.detect is ServiceSymptomDetector.detect

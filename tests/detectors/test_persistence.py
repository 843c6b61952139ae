"""Persistence before a condition fires: scaled by harm, counted from the onset in the data
or, when the data does not say, from when the poller first saw it."""
import pytest

from lib import clock
from lib.datastore import Datastore
from lib.detectors.base import Detector, excess_ratio
from lib.detectors.cpu_throttling import CpuThrottlingDetector
from lib.detectors.error_rate import ErrorRateDetector
from lib.detectors.latency_anomaly import LatencyAnomalyDetector
from lib.detectors.poller import (HARM_EXPONENT, MIN_PERSISTENCE_S, DetectorPoller,
                                  persistence_for_harm, persistence_s, persistent)
from lib.signals import Signal, make_target
from support.detector_fakes import DictDatastore, settings

NOW = 1795835842.0


# ------------------------------------------------------------ the harm-scaled persistence
def test_full_persistence_at_or_below_the_threshold_and_without_a_harm_measure():
    for harm in (None, 0.0, 0.5, 1.0):
        assert persistence_for_harm(120, harm) == 120


def test_persistence_falls_monotonically_with_harm_as_a_power():
    harms = [1.0 + 0.05 * i for i in range(400)]
    waits = [persistence_for_harm(180, h) for h in harms]
    assert all(a >= b for a, b in zip(waits, waits[1:]))
    assert waits[0] > waits[-1]
    assert persistence_for_harm(180, 2.0) == pytest.approx(180 / 2.0 ** HARM_EXPONENT)
    assert persistence_for_harm(180, 1.5) == pytest.approx(180 * (1 / 1.5) ** HARM_EXPONENT)


def test_persistence_never_below_the_floor_nor_above_for_s():
    assert persistence_for_harm(180, 1000.0) == MIN_PERSISTENCE_S
    assert persistence_for_harm(180, 1e9, floor_s=20) == 20
    assert persistence_for_harm(10, 1000.0) == 10   # a for_s under the floor stays
    assert persistence_for_harm(0, 5.0) == 0


def test_persistence_takes_the_shorter_of_severity_and_harm():
    cfg = {"for_s": 120}
    assert persistence_s(cfg, "medium", 1.0) == 120
    assert persistence_s(cfg, "high", 1.0) == 40            # severity's third
    assert persistence_s(cfg, "high", 2.5) == pytest.approx(120 / 6.25)
    assert persistence_s(cfg, "high", 4.0) == MIN_PERSISTENCE_S   # 7.5 s, floored
    assert persistence_s(cfg, "medium", 2.0) == pytest.approx(30.0)
    assert persistence_s(cfg, "critical", 1.0) == 0


def test_a_severity_read_off_a_window_shortens_nothing():
    cfg = {"for_s": 120}
    assert persistence_s(cfg, "critical", None, severity_is_current=False) == 120
    assert persistence_s(cfg, "high", 1.0, severity_is_current=False) == 120
    assert persistence_s(cfg, "critical", 0.0, severity_is_current=False) == 120
    # ... the current harm still does
    assert persistence_s(cfg, "critical", 2.0, severity_is_current=False) == \
        pytest.approx(30.0)


def test_service_symptoms_and_throttling_grade_severity_off_their_window():
    assert ErrorRateDetector.severity_is_current is False
    assert LatencyAnomalyDetector.severity_is_current is False
    assert CpuThrottlingDetector.severity_is_current is False
    assert Detector.severity_is_current is True


def test_a_passed_error_burst_waits_the_full_persistence_however_critical_its_window():
    det = ErrorRateDetector(settings(error_rate={"for_s": 180}), prom=None)
    burst = _service_signal("error_rate", "critical", 100, error_ratio=0.6)
    burst.evidence["values"] = {"error_ratio": 0.6, "error_ratio_last": 0.0}
    assert persistent(det, [burst], {}, NOW) == []
    ongoing = _service_signal("error_rate", "critical", 100, error_ratio=0.6)
    ongoing.evidence["values"] = {"error_ratio": 0.6, "error_ratio_last": 0.6}
    assert persistent(det, [ongoing], {}, NOW) == [ongoing]   # harm 12: the 15 s floor


def test_high_throttling_waits_the_full_persistence():
    det = CpuThrottlingDetector(settings(cpu_throttling={"for_s": 300}), prom=None)
    sig = Signal("cpu_throttling", make_target("Pod", "web-1", "shop"), "high", NOW - 200,
                 NOW, "x", {"query": "q", "values": {}}, {"throttled_ratio": 0.99,
                                                          "threshold_ratio": 0.25})
    assert persistent(det, [sig], {}, NOW) == []
    sig.rebase(NOW - 300)
    assert persistent(det, [sig], {}, NOW) == [sig]


def test_a_new_condition_that_no_longer_holds_now_does_not_fire():
    det = ErrorRateDetector(settings(error_rate={"for_s": 180}), prom=None)
    old = _service_signal("error_rate", "medium", 400, error_ratio=0.08)
    old.evidence["values"] = {"error_ratio": 0.08, "error_ratio_last": 0.01}
    assert det.holds_now(old) is False
    assert persistent(det, [old], {}, NOW) == []
    # ... an open one is kept (its clearing is the sensor's to see, not persistence's)
    assert persistent(det, [old], {old.state_key: {"state": "open"}}, NOW) == [old]
    old.evidence["values"]["error_ratio_last"] = 0.08
    assert persistent(det, [old], {}, NOW) == [old]


def test_throttling_that_stopped_in_the_last_interval_does_not_fire():
    det = CpuThrottlingDetector(settings(cpu_throttling={"for_s": 300, "ratio": 0.25}),
                                prom=None)
    sig = Signal("cpu_throttling", make_target("Pod", "web-1", "shop"), "high", NOW - 400,
                 NOW, "x", {"query": "q", "values": {}},
                 {"throttled_ratio": 0.6, "threshold_ratio": 0.25,
                  "throttled_ratio_last": 0.0})
    assert persistent(det, [sig], {}, NOW) == []
    sig.metadata["throttled_ratio_last"] = 0.9
    assert persistent(det, [sig], {}, NOW) == [sig]
    sig.metadata["throttled_ratio_last"] = None       # cannot tell: persistence decides
    assert det.holds_now(sig) is None
    assert persistent(det, [sig], {}, NOW) == [sig]


def test_excess_ratio():
    assert excess_ratio(0.1, 0.05) == pytest.approx(2.0)
    assert excess_ratio(3.0, 2.0, 1.0) == pytest.approx(2.0)
    assert excess_ratio(None, 0.05) is None
    assert excess_ratio(3.0, 1.0, 1.0) is None   # no margin to scale by


def _service_signal(detector, severity, age_s, **metadata):
    return Signal(detector, make_target("Service", "checkout", "shop"), severity,
                  NOW - age_s, NOW, "x", {"query": "q", "values": {}}, metadata,
                  service="checkout")


def test_error_rate_harm_is_the_ratio_in_slos_now():
    det = ErrorRateDetector(settings(), prom=None)
    slo = float(det.cfg["slo_error_ratio"])
    window_only = _service_signal("error_rate", "medium", 0, error_ratio=4 * slo)
    assert det.harm(window_only) == pytest.approx(4.0)
    # the last scrape interval's ratio, when there is one, says how bad it is now: a fresh
    # fault is worse than its window says, a passed burst is no harm any more
    fresh = _service_signal("error_rate", "medium", 0, error_ratio=1.1 * slo)
    fresh.evidence["values"] = {"error_ratio": 1.1 * slo, "error_ratio_last": 5 * slo}
    assert det.harm(fresh) == pytest.approx(5.0)
    passed = _service_signal("error_rate", "medium", 0, error_ratio=2 * slo)
    passed.evidence["values"] = {"error_ratio": 2 * slo, "error_ratio_last": 0.0}
    assert det.harm(passed) == 0.0
    assert persistence_s(det.cfg, "medium", det.harm(passed)) == float(det.cfg["for_s"])
    assert det.harm(_service_signal("error_rate", "medium", 0)) is None


def test_latency_harm_is_the_added_latency_over_the_allowed():
    det = LatencyAnomalyDetector(settings(latency_anomaly={"ratio": 2.0}), prom=None)
    assert det.harm(_service_signal("latency_anomaly", "medium", 0, ratio=3.0)) == \
        pytest.approx(2.0)
    assert det.harm(_service_signal("latency_anomaly", "medium", 0, ratio=2.0)) == \
        pytest.approx(1.0)
    # the last scrape interval's p99, when there is one: a pause that has passed is no harm
    passed = _service_signal("latency_anomaly", "high", 100, ratio=5.0, ratio_last=1.0)
    assert det.harm(passed) == pytest.approx(0.0)
    assert persistent(det, [passed], {}, NOW) == []
    now_worse = _service_signal("latency_anomaly", "medium", 0, ratio=2.2, ratio_last=4.0)
    assert det.harm(now_worse) == pytest.approx(3.0)


def test_a_harmful_condition_passes_earlier_a_marginal_one_waits():
    det = LatencyAnomalyDetector(settings(latency_anomaly={"ratio": 2.0, "for_s": 180}),
                                 prom=None)
    severe = _service_signal("latency_anomaly", "high", 20, ratio=6.0)      # harm 5: 15 s
    marginal = _service_signal("latency_anomaly", "medium", 100, ratio=2.2)  # harm 1.2
    assert persistent(det, [severe], {}, NOW) == [severe]
    assert persistent(det, [marginal], {}, NOW) == []
    assert persistent(det, [_service_signal("latency_anomaly", "high", 10, ratio=6.0)],
                      {}, NOW) == []   # the floor: not on one sample


def test_detectors_without_a_harm_measure_keep_their_fixed_wait():
    class Throttle(Detector):
        name = "cpu_throttling"
        kind = "Pod"
    det = Throttle(settings(cpu_throttling={"for_s": 300}), prom=None)
    sig = Signal("cpu_throttling", make_target("Pod", "web-1", "shop"), "medium", NOW - 200,
                 NOW, "x", {"query": "q", "values": {}}, {"throttled_ratio": 0.99,
                                                          "threshold_ratio": 0.25})
    assert det.harm(sig) is None
    assert persistent(det, [sig], {}, NOW) == []


# ------------------------------------------------------------ onsets the data did not give
def test_a_signal_without_onset_counts_from_detection_and_is_marked():
    sig = Signal("cpu_throttling", make_target("Pod", "web-1", "shop"), "medium", None, NOW,
                 "x")
    assert (sig.onset_known, sig.first_detected) == (False, NOW)
    assert sig.signal_id.endswith(".%d" % NOW)
    sig.rebase(NOW - 90)
    assert sig.first_detected == NOW - 90 and sig.signal_id.endswith(".%d" % (NOW - 90))
    assert Signal("cpu_throttling", sig.target, "medium", NOW - 5, NOW, "x").onset_known


class _NoOnset(Detector):
    """A cpu_throttling detector whose onset query never answers."""
    name = "cpu_throttling"
    kind = "Pod"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.present = True

    def detect(self, now):
        if not self.present:
            return []
        return [Signal(self.name, make_target("Pod", "web-1", "shop"), "medium", None, now,
                       "throttled", {"query": "q", "values": {}},
                       {"throttled_ratio": 0.4, "container": "web", "threshold_ratio": 0.25})]


def _poller(det):
    fired = []
    poller = DetectorPoller(settings(cpu_throttling={"for_s": 60}),
                            Datastore(DictDatastore()),
                            lambda trigger, payload: fired.append(payload),
                            prom=object(), detectors=[det])
    return poller, fired


def test_without_an_onset_persistence_counts_from_first_seen(now):
    det = _NoOnset(settings(cpu_throttling={"for_s": 60}), prom=None)
    poller, fired = _poller(det)
    for _ in range(2):           # seen at 0 s and 30 s: younger than 60 s
        poller.poll()
        now["t"] += 30
    assert fired == []
    poller.poll()                # 60 s after first seen
    assert len(fired) == 1
    assert fired[0]["first_detected"] == clock.isoformat(NOW)
    assert fired[0]["signal_id"].endswith(".%d" % NOW)


def test_first_seen_is_forgotten_when_a_poll_no_longer_sees_the_condition(now):
    det = _NoOnset(settings(cpu_throttling={"for_s": 60}), prom=None)
    poller, fired = _poller(det)
    poller.poll()
    now["t"] += 30
    det.present = False
    poller.poll()
    det.present = True
    for _ in range(2):           # back at 60 s: counts afresh from there
        now["t"] += 30
        poller.poll()
    assert fired == []
    now["t"] += 30
    poller.poll()
    assert len(fired) == 1 and fired[0]["first_detected"] == clock.isoformat(NOW + 60)


def test_a_known_onset_is_not_replaced_by_first_seen(now):
    class Known(_NoOnset):
        def detect(self, now):
            sig = super().detect(now)[0]
            sig.rebase(now - 5)  # as if the onset query said so (always young)
            sig.onset_known = True
            return [sig]
    det = Known(settings(cpu_throttling={"for_s": 60}), prom=None)
    poller, fired = _poller(det)
    for _ in range(4):
        poller.poll()
        now["t"] += 30
    assert fired == []

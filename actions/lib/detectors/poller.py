"""One poll of a set of detectors: run them, dedupe, dispatch triggers, track outages.

Used by the sensor (sensors/detector_sensor.py) and by anything that wants to drive the
detectors without StackStorm (it only needs a datastore service and a dispatch function).
"""
import concurrent.futures
import logging
from typing import Any, Callable, Dict, List, Optional, Tuple

from lib import clock
from lib.datastore import Datastore
from lib.detectors import build_detectors
from lib.detectors.base import ONSET_STEP_S, Detector
from lib.kube import KubeError
from lib.prom import Prom, PrometheusError
from lib.signal_state import SignalState
from lib.signals import Signal, validate_payload

PACK = "self_healing"
CLEARED_TRIGGER = PACK + ".signal_cleared"
DEGRADED_TRIGGER = PACK + ".sensor_degraded"
# Input data older than this (seconds) is stale: the detector does not judge from it.
STALE_AFTER_S = 180.0
# The freshness of a detector's input is checked (one read of its biggest metric family)
# whenever a quiet poll would clear an open condition, and on every Nth poll otherwise.
FRESHNESS_EVERY = 10


class DataUnavailable(Exception):
    """A detector's input series vanished or went stale."""


class PollResult(object):
    """What one poll did (for logs, the engine and the benchmark)."""

    def __init__(self) -> None:
        self.fired: List[Dict[str, Any]] = []
        self.cleared: List[Dict[str, Any]] = []
        self.degraded: List[Dict[str, Any]] = []
        self.errors: Dict[str, str] = {}
        self.seen: Dict[str, int] = {}


class DetectorPoller(object):
    """Runs detectors concurrently and turns their signals into triggers."""

    def __init__(self, settings: Any, datastore: Datastore,
                 dispatch: Callable[[str, Dict[str, Any]], Any],
                 prom: Optional[Prom] = None, kube: Any = None,
                 detectors: Optional[List[Detector]] = None,
                 logger: Optional[Any] = None, max_workers: int = 4,
                 kube_error: str = "") -> None:
        self.settings = settings
        self.dispatch = dispatch
        self.log = logger or logging.getLogger(__name__)
        self.prom = prom if prom is not None else Prom.from_settings(settings["prometheus"])
        self.kube = kube
        self.detectors = detectors if detectors is not None else build_detectors(
            settings, self.prom, kube)
        self.state = SignalState(datastore, ttl_s=int(settings["signal_ttl_s"]))
        self.max_workers = max(1, min(max_workers, len(self.detectors) or 1))
        self.outages: Dict[str, Dict[str, Any]] = {}
        self.had_data: Dict[str, bool] = {}
        self.kube_error = kube_error
        self.polls = 0
        # state key -> when this poller first saw the condition, for as long as every
        # successful poll of its detector keeps seeing it (the onset of a condition whose
        # onset query said nothing)
        self.first_seen: Dict[str, float] = {}

    def poll(self) -> PollResult:
        """Run every detector once; dispatch fired/cleared/degraded triggers."""
        result = PollResult()
        now = clock.now()
        records = self.state.load()
        open_detectors = {r.get("detector") for r in records.values()
                          if r.get("state") == "open"}
        periodic = self.polls % FRESHNESS_EVERY == 0
        self.polls += 1
        outcomes = self._run_all(now, open_detectors, periodic)
        failed: Dict[str, Tuple[str, str]] = {}
        if self.kube_error:
            failed["kubernetes"] = ("", self.kube_error)
        for detector in self.detectors:
            signals, error = outcomes[detector.name]
            for source, message in detector.degraded:
                failed.setdefault(source, (detector.name, message))
            if error is None and detector.source_missing:
                # blind (configured for another stack): one outage for as long as it lasts
                failed.setdefault("prometheus", (detector.name, detector.source_missing))
            if error is not None:
                source = "kubernetes" if isinstance(error, KubeError) else "prometheus"
                failed.setdefault(source, (detector.name, str(error)))
                result.errors[detector.name] = str(error)
                self.log.error("detector %s skipped this poll: %s", detector.name, error)
                continue
            result.seen[detector.name] = len(signals)
            self._date_unknown_onsets(detector.name, signals or [], now)
            signals = persistent(detector, signals or [], records, now)
            fire, cleared = self.state.update(detector.name, signals, records)
            for signal in fire:
                self._fire(signal, result)
            for event in cleared:
                self.dispatch(CLEARED_TRIGGER, event)
                result.cleared.append(event)
                self.log.info("condition cleared: %s", event["signal_id"])
        self._track_outages(failed, now, result)
        return result

    def _date_unknown_onsets(self, detector: str, signals: List[Signal], now: float) -> None:
        """A signal whose onset query returned nothing counts from when this poller first
        saw it (in consecutive successful polls), not from now: otherwise its persistence
        would restart on every poll. Conditions gone from a poll are forgotten."""
        seen = {s.state_key for s in signals}
        prefix = "signal.%s." % detector
        for key in [k for k in self.first_seen if k.startswith(prefix) and k not in seen]:
            del self.first_seen[key]
        for signal in signals:
            first = self.first_seen.setdefault(signal.state_key, now)
            if not signal.onset_known and first < signal.first_detected:
                self.log.info("%s: onset not in the data, counting from first seen %s",
                              signal.state_key, clock.isoformat(first))
                signal.rebase(first)

    def _run_all(self, now: float, open_detectors: Any, periodic: bool
                 ) -> Dict[str, Tuple[List[Signal], Optional[Exception]]]:
        """Each detector's signals or error, run on a small thread pool."""
        outcomes: Dict[str, Tuple[List[Signal], Optional[Exception]]] = {}
        if self.max_workers == 1:
            for detector in self.detectors:
                outcomes[detector.name] = self._run_one(
                    detector, now, periodic, detector.name in open_detectors)
            return outcomes
        with concurrent.futures.ThreadPoolExecutor(self.max_workers) as pool:
            futures = {d.name: pool.submit(self._run_one, d, now, periodic,
                                           d.name in open_detectors)
                       for d in self.detectors}
            for name, future in futures.items():
                outcomes[name] = future.result()
        return outcomes

    def _run_one(self, detector: Detector, now: float, periodic: bool, has_open: bool
                 ) -> Tuple[List[Signal], Optional[Exception]]:
        """Detect; check the input is present and fresh when a quiet poll would clear an
        open condition, on the first poll and periodically."""
        detector.degraded = []
        detector.kube_ok = False
        try:
            signals = detector.detect(now)
            if periodic or (has_open and not signals):
                self._check_freshness(detector, has_open)
            return signals, None
        except (PrometheusError, KubeError, DataUnavailable) as error:
            return [], error
        except Exception as error:  # a bug or an unexpected answer: keep the sensor alive
            self.log.exception("detector %s failed", detector.name)
            return [], PrometheusError("%s: %s: %s" % (detector.name, type(error).__name__,
                                                       error))

    def _check_freshness(self, detector: Detector, has_open: bool) -> None:
        """Raise DataUnavailable when the detector's input vanished or went stale (an open
        condition means the data existed, even before this process started)."""
        age = detector.data_age()
        if age is None and detector.source_missing:
            raise DataUnavailable(detector.source_missing)
        if age is None:
            if has_open or self.had_data.get(detector.name):
                raise DataUnavailable("%s: input series vanished (%s returned nothing)" % (
                    detector.name, detector.freshness_query))
            return  # the metric family does not exist here: nothing to judge
        self.had_data[detector.name] = True
        if age > STALE_AFTER_S:
            raise DataUnavailable("%s: input data is stale (newest sample %.0f s old)" % (
                detector.name, age))

    def _fire(self, signal: Signal, result: PollResult) -> None:
        payload = signal.to_dict()
        try:
            validate_payload(payload)
        except ValueError as error:
            self.log.error("dropping invalid %s signal %s: %s", signal.detector,
                           signal.signal_id, error)
            return
        self.dispatch("%s.%s" % (PACK, signal.detector), payload)
        result.fired.append(payload)
        self.log.info("signal fired: %s (%s)", signal.signal_id, signal.summary)

    def _track_outages(self, failed: Dict[str, Tuple[str, str]], now: float,
                       result: PollResult) -> None:
        """sensor_degraded once per outage of a source; forget the outage when it ends."""
        for source, (detector, message) in sorted(failed.items()):
            if source in self.outages:
                continue
            payload = {"source": source, "detector": detector, "error": message,
                       "since": clock.isoformat(now)}
            self.outages[source] = payload
            self.dispatch(DEGRADED_TRIGGER, payload)
            result.degraded.append(payload)
            self.log.error("%s degraded (detector %s): %s", source, detector, message)
        for source in list(self.outages):
            if source not in failed and self._source_polled(source, result):
                self.log.info("%s recovered after outage since %s", source,
                              self.outages[source]["since"])
                del self.outages[source]

    def _source_polled(self, source: str, result: PollResult) -> bool:
        """True when this poll actually exercised the source without failing."""
        if source == "prometheus":
            return bool(result.seen)
        return any(d.kube_ok for d in self.detectors)


# Harm-scaled persistence (persistence_for_harm): the wait falls with the square of how far
# the observation is beyond its threshold. Squared, because two things grow with the
# margin: the harm done per second (a fixed harm budget alone would give the first power)
# and the evidence that the condition is real (look-alikes - surges, roll-outs - hover near
# a threshold; a noise excursion far beyond it is rare).
HARM_EXPONENT = 2.0
# ... but never below one onset step (the resolution of the onset queries): a condition
# fires only once it held at two consecutive evaluations, never on one sample.
MIN_PERSISTENCE_S = float(ONSET_STEP_S)


def persistence_for_harm(for_s: float, harm: Optional[float],
                         exponent: float = HARM_EXPONENT,
                         floor_s: float = MIN_PERSISTENCE_S) -> float:
    """`for_s * clamp(1 / harm, 0, 1) ** exponent`, not below `floor_s` (nor above for_s).

    `harm` is the observation's excess over the healthy level relative to the threshold's
    (1 at the threshold, 2 at twice its margin); None when the detector does not measure it
    (the full for_s)."""
    for_s = float(for_s)
    if harm is None or harm <= 1.0:
        return for_s
    return max(min(floor_s, for_s), for_s * (1.0 / harm) ** exponent)


def persistence_s(cfg: Any, severity: str, harm: Optional[float] = None,
                  severity_is_current: bool = True) -> float:
    """Seconds a condition must have held (in the data) before it fires: the detector's
    `for_s`, shorter when the detector measures its current harm (persistence_for_harm).
    When the severity describes the present, a high one waits at most a third of for_s and
    a critical one not at all; a severity read off a window average shortens nothing."""
    base = float((cfg or {}).get("for_s") or 0) if hasattr(cfg, "get") else 0.0
    by_harm = persistence_for_harm(base, harm)
    if not severity_is_current:
        return by_harm
    if severity == "critical":
        return 0.0
    by_severity = base / 3.0 if severity == "high" else base
    return min(by_severity, by_harm)


def persistent(detector: Detector, signals: List[Signal],
               records: Dict[str, Dict[str, Any]], now: float) -> List[Signal]:
    """Drop new conditions younger than their persistence, and new ones that no longer hold
    in the last scrape interval (a window still holding a passed burst); open ones always
    pass (so that a pending condition is never mistaken for a cleared one)."""
    out = []
    harm_of = getattr(detector, "harm", None)
    holds_now = getattr(detector, "holds_now", None)
    for signal in signals:
        record = records.get(signal.state_key) or {}
        if record.get("state") != "open":
            if holds_now is not None and holds_now(signal) is False:
                continue
            harm = harm_of(signal) if harm_of is not None else None
            wait = persistence_s(getattr(detector, "cfg", None), signal.severity, harm,
                                 getattr(detector, "severity_is_current", True))
            if now - float(signal.first_detected) < wait - 1e-6:
                continue
        out.append(signal)
    return out

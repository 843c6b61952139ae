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
from lib.detectors.base import Detector
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


def persistence_s(cfg: Any, severity: str) -> float:
    """Seconds a condition must have held (in the data) before it fires: the detector's
    `for_s` at low/medium severity, a third of it at high, none at critical."""
    base = float((cfg or {}).get("for_s") or 0) if hasattr(cfg, "get") else 0.0
    if severity == "critical":
        return 0.0
    return base / 3.0 if severity == "high" else base


def persistent(detector: Detector, signals: List[Signal],
               records: Dict[str, Dict[str, Any]], now: float) -> List[Signal]:
    """Drop new conditions younger than their persistence; open ones always pass (so that a
    pending condition is never mistaken for a cleared one)."""
    out = []
    for signal in signals:
        record = records.get(signal.state_key) or {}
        wait = persistence_s(getattr(detector, "cfg", None), signal.severity)
        if record.get("state") != "open" and now - float(signal.first_detected) < wait - 1e-6:
            continue
        out.append(signal)
    return out


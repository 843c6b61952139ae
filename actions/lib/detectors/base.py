"""Detector base class and helpers shared by every detector."""
import logging
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from lib import metric_presets
from lib import prom as prom_lib
from lib.config import parse_duration
from lib.signals import Signal

LOG = logging.getLogger(__name__)

# Resolution of the range queries that find when a condition began.
ONSET_STEP_S = 15
# A service whose request rate is at least this multiple of its baseline is in a traffic
# surge: latency and CPU throttling that follow are load, handled by autoscaling.
LOAD_SURGE_RATIO = 1.5
# Detectors that scan every container (150,000 at the largest scale) read one shard of
# them per poll, by the last character of the pod name (Kubernetes' generated suffixes are
# spread evenly over these classes): each container is scanned every SHARDS polls, and the
# containers found are re-checked on every poll in between.
POD_SHARDS = ("0-8", "9a-h", "i-q", "^0-9a-q")
# At most this many targets per detector per poll are examined in detail (topk/bottomk).
MAX_TARGETS = 50


class Detector(object):
    """A detector reads Prometheus (and the API server) and returns the signals it sees.

    `detect(now)` raises `lib.prom.PrometheusError` when its main data source fails (the
    sensor then emits sensor_degraded and keeps the open conditions as they are). Failures
    of secondary sources that only enrich a signal are recorded in `self.degraded` as
    `(source, error)` pairs and the signal is still returned.
    """

    name = ""
    kind = ""
    # PromQL giving the age in seconds of this detector's freshest input sample (or nothing
    # when the metric family is absent): lets the sensor tell "condition absent" from
    # "data vanished".
    freshness_query = ""
    # True when the severity describes the present (a node down, a pool full now), so a high
    # severity may shorten the persistence; False when it is read off a window average,
    # which still holds a burst that has passed (then only the current harm shortens it).
    severity_is_current = True

    def __init__(self, settings: Any, prom: prom_lib.Prom, kube: Any = None) -> None:
        self.settings = settings
        self.cfg = settings.detector(self.name)
        self.prom = prom
        self.kube = kube
        self.degraded: List[Tuple[str, str]] = []
        self.kube_ok = False
        # set by data_age(): why the configured metric source looks wrong for this cluster
        self.source_missing = ""

    def detect(self, now: float) -> List[Signal]:
        """Signals for every target whose condition holds at `now`."""
        raise NotImplementedError

    def harm(self, signal: Signal) -> Optional[float]:
        """How far the signal's observation is beyond the detector's threshold, as its
        excess over the healthy level relative to the threshold's (1 at the threshold);
        None when the detector does not measure harm (its condition waits the fixed
        persistence). Detectors whose observation is itself the harm override this."""
        return None

    def holds_now(self, signal: Signal) -> Optional[bool]:
        """Whether the condition still holds in the last scrape interval (a window's measure
        still holds a burst that has passed): by default, whether the current harm is at
        least the threshold's; None when the detector cannot tell."""
        harm = self.harm(signal)
        return None if harm is None else harm >= 1.0

    def next_shard(self) -> str:
        """Pod-name matcher of this poll's shard (cycles through POD_SHARDS)."""
        index = getattr(self, "_shard_index", 0)
        self._shard_index = index + 1
        return 'pod=~".*[%s]"' % POD_SHARDS[index % len(POD_SHARDS)]

    def duration(self, key: str) -> int:
        """A PromQL-duration setting in seconds."""
        return parse_duration(self.cfg[key])

    def data_age(self) -> Optional[float]:
        """Seconds since the freshest input sample, or None when there is no such data."""
        if not self.freshness_query:
            return 0.0
        samples = self.prom.query(self.freshness_query)
        if samples:
            self.source_missing = ""
            return samples[0].value
        self.source_missing = self._other_source_present()
        return None

    def alternative_sources(self) -> Dict[str, str]:
        """{preset name: freshness query} of the metric presets this detector could have been
        configured with instead (empty for detectors with a fixed source)."""
        return {}

    def _other_source_present(self) -> str:
        """When the configured source has no series but another preset's has, the reason
        (the detector is blind: the pack is configured for another stack); else ""."""
        for name, query in sorted(self.alternative_sources().items()):
            try:
                if self.prom.query(query):
                    return ("%s: blind: no series of the configured metric source (%s) but %s "
                            "series exist; set metric_sources in the pack config" % (
                                self.name, self.freshness_query, name))
            except prom_lib.PrometheusError:
                return ""
        return ""

    def onsets(self, promql: str, labels: Sequence[str], lookback_s: float,
               now: float) -> Dict[Tuple[str, ...], float]:
        """When each series of a condition query (one returning only while the condition
        holds) began its current run, keyed by the values of `labels`."""
        result: Dict[Tuple[str, ...], float] = {}
        for series in self.prom.query_range(promql, lookback_s, ONSET_STEP_S):
            start = run_start([t for t, _ in series.points], ONSET_STEP_S)
            if start is None:
                continue
            key = tuple(series.labels.get(n, "") for n in labels)
            result[key] = min(result.get(key, start), start)
        return result

    def kube_read(self, fn: Any, *args: Any) -> Any:
        """One API read without retries (the next poll is the retry); None when it failed
        (recorded in `degraded`) or the object does not exist."""
        from lib.kube import KubeError

        if self.kube is None:
            return None
        try:
            obj = self.kube.call(fn, *args, retry=False)
        except KubeError as error:
            if error.status == 404:
                self.kube_ok = True
            else:
                self.note_degraded("kubernetes", error)
            return None
        self.kube_ok = True
        return obj

    def load_ratios(self, services: Iterable[str], window: str,
                    baseline_window: str = "1h") -> Dict[Tuple[str, str], float]:
        """Peak request rate (over `window`) of the last 10 minutes / its average over the
        baseline window one baseline window ago (subqueries, so a partly filled history does
        not skew it), keyed by (namespace, service); services without traffic are absent.
        Using the recent peak keeps a surge explaining latency while queues drain."""
        names = sorted(set(services))
        if not names:
            return {}
        source = metric_presets.http(self.settings)
        current = source.rate("requests", source.services(names), window)
        query = ("max_over_time((%s)[10m:1m]) / on(%s) (avg_over_time((%s)[%s:1m] offset %s)"
                 " > 0)" % (current, source.by, current, baseline_window, baseline_window))
        return {source.key(s.labels): s.value for s in self.prom.query(query)}

    def note_degraded(self, source: str, error: Exception) -> None:
        """Record a failure of a secondary source (the signal goes out without that part)."""
        LOG.error("%s: %s data unavailable: %s", self.name, source, error)
        self.degraded.append((source, str(error)))


class SourcedDetector(Detector):
    """A detector that reads a configurable metric source (lib.metric_presets): `source_kind`
    "http" or "pool", and the `source_field` whose freshness shows the source is there."""

    source_kind = "http"
    source_field = "requests"

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.source = (metric_presets.http(self.settings) if self.source_kind == "http"
                       else metric_presets.pool(self.settings))  # type: Any

    @property
    def freshness_query(self) -> str:  # type: ignore[override]
        return self.source.freshness(self.source_field)

    def alternative_sources(self) -> Dict[str, str]:
        return metric_presets.other_presets(self.source_kind, self.source.preset,
                                            self.source_field)


def run_start(times: List[float], step_s: float) -> Optional[float]:
    """Start of the last unbroken run of sample times (gaps up to 2.5 steps are bridged)."""
    if not times:
        return None
    ordered = sorted(times)
    start = ordered[-1]
    for earlier in reversed(ordered[:-1]):
        if start - earlier > 2.5 * step_s:
            break
        start = earlier
    return start


def selector(base: Dict[str, str], **regexes: Iterable[str]) -> str:
    """A label selector body: exact matchers from `base`, regex matchers from `regexes`."""
    parts = ['%s="%s"' % (k, v) for k, v in base.items()]
    for label, values in regexes.items():
        parts.append('%s=~"%s"' % (label, prom_lib.label_regex(values)))
    return ",".join(parts)


def fmt(value: Optional[float], digits: int = 1) -> str:
    """A number for a summary, or 'n/a'."""
    return "n/a" if value is None else ("%.*f" % (digits, value))


def rounded(value: Optional[float], digits: int = 3) -> Optional[float]:
    """Round for metadata; None stays None."""
    return None if value is None else round(value, digits)


def excess_ratio(observed: Optional[float], threshold: float,
                 healthy: float = 0.0) -> Optional[float]:
    """(observed - healthy) / (threshold - healthy), or None when either is unknown or the
    threshold is not above the healthy level."""
    if observed is None or threshold <= healthy:
        return None
    return (float(observed) - healthy) / (threshold - healthy)


def service_of_pod(pod: str, container: str = "") -> str:
    """The service of a pod: its main container is named after the service (convention);
    without a container label, strip the ReplicaSet and pod hashes from the pod name."""
    if container and container != "POD":
        return container
    parts = pod.split("-")
    return "-".join(parts[:-2]) if len(parts) > 2 else pod

"""Prometheus access for detectors: instant and range queries at `clock.now()`.

The HTTP side is `lib.prom_api.PromAPI` (requests): every failure (unreachable, timeout, HTTP
error, a body that is not a Prometheus answer) becomes one `PrometheusError`. Here, samples
whose value is NaN/Inf or whose timestamp is far from the evaluation time are dropped.
"""
import logging
import math
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from lib import clock
from lib.prom_api import PromAPI, PrometheusError, short as _short

__all__ = ["MAX_SKEW_S", "Prom", "PrometheusError", "Sample", "Series", "by_labels",
           "label_regex"]

LOG = logging.getLogger(__name__)

# An instant answer whose timestamp is further than this from the requested time is stale.
MAX_SKEW_S = 60.0


class Sample(object):
    """One instant-vector element: labels, value and the sample time."""

    __slots__ = ("labels", "value", "ts")

    def __init__(self, labels: Dict[str, str], value: float, ts: float) -> None:
        self.labels = labels
        self.value = value
        self.ts = ts

    def __repr__(self) -> str:
        return "Sample(%r, %r, %r)" % (self.labels, self.value, self.ts)


class Series(object):
    """One range-vector element: labels and (time, value) points, oldest first."""

    __slots__ = ("labels", "points")

    def __init__(self, labels: Dict[str, str], points: List[Tuple[float, float]]) -> None:
        self.labels = labels
        self.points = points

    def __repr__(self) -> str:
        return "Series(%r, %d points)" % (self.labels, len(self.points))


def _finite(value: Any) -> Optional[float]:
    """The float value of a Prometheus sample string, or None for NaN/Inf/garbage."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(number) or math.isinf(number):
        return None
    return number


def label_regex(values: Iterable[str]) -> str:
    """A PromQL regex matching exactly these label values (escaped, sorted, deduplicated)."""
    specials = set("\\.^$|?*+()[]{}")
    escaped = []
    for value in sorted(set(values)):
        escaped.append("".join(("\\\\" + c) if c in specials else c for c in value))
    return "|".join(escaped)


class Prom(object):
    """Query Prometheus at the pack's clock; raise PrometheusError on any failure."""

    def __init__(self, url: str, bearer_token: str = "", verify_tls: bool = True,
                 timeout_s: float = 10.0, api: Optional[PromAPI] = None) -> None:
        self.api = api or PromAPI(url, bearer_token=bearer_token, verify_tls=verify_tls,
                                  timeout_s=timeout_s)
        self.url = self.api.url
        self.timeout_s = self.api.timeout_s

    @classmethod
    def from_settings(cls, prometheus_settings: Mapping[str, Any]) -> "Prom":
        """Build from the pack's `prometheus` settings."""
        return cls(url=prometheus_settings["url"],
                   bearer_token=prometheus_settings.get("bearer_token") or "",
                   verify_tls=bool(prometheus_settings.get("verify_tls", True)),
                   timeout_s=float(prometheus_settings.get("timeout_s") or 10))

    def close(self) -> None:
        """Release the HTTP session."""
        self.api.close()

    def query(self, promql: str) -> List[Sample]:
        """Instant query at `clock.now()`; finite, fresh samples only."""
        now = clock.now()
        params = {"time": "%.3f" % now, "timeout": "%gs" % self.timeout_s}
        samples = []
        for item in self.api.get("query", promql, params):
            pair = item.get("value")
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise PrometheusError("prometheus answered garbage for %s: %r" % (
                    _short(promql), item))
            ts = _finite(pair[0])
            value = _finite(pair[1])
            if ts is None:
                raise PrometheusError("prometheus answered a bad timestamp for %s: %r" % (
                    _short(promql), pair[0]))
            if value is None:
                continue
            if abs(ts - now) > MAX_SKEW_S:
                LOG.warning("dropping stale sample of %s at %s (asked for %s)",
                            _short(promql), ts, now)
                continue
            samples.append(Sample(dict(item.get("metric") or {}), value, ts))
        return samples

    def query_range(self, promql: str, lookback_s: float, step_s: float) -> List[Series]:
        """Range query over [now - lookback_s, now]; NaN/Inf points dropped."""
        end = clock.now()
        start = end - max(lookback_s, step_s)
        # Whole seconds, as prometheus-api-client sent them (keeps the step grid aligned).
        params = {"start": "%d" % round(start), "end": "%d" % round(end),
                  "step": "%gs" % step_s, "timeout": "%gs" % self.timeout_s}
        series = []
        for item in self.api.get("query_range", promql, params):
            values = item.get("values")
            if not isinstance(values, list):
                raise PrometheusError("prometheus answered garbage for %s: %r" % (
                    _short(promql), item))
            points = []
            for pair in values:
                if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                    raise PrometheusError("prometheus answered garbage for %s" % _short(promql))
                ts, value = _finite(pair[0]), _finite(pair[1])
                if ts is not None and value is not None and ts <= end + MAX_SKEW_S:
                    points.append((ts, value))
            if points:
                series.append(Series(dict(item.get("metric") or {}), points))
        return series


def by_labels(samples: Iterable[Sample], *names: str) -> Dict[Tuple[str, ...], Sample]:
    """Index samples by a tuple of label values."""
    return {tuple(s.labels.get(n, "") for n in names): s for s in samples}

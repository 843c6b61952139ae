"""Series keys, histogram buckets, deterministic noise and curves the model's exporters use.
"""
from __future__ import annotations

import math
import zlib
from typing import Any, Dict, List, Optional, Tuple

from twin.promwrite import SeriesKey
from twin.promwrite import series_key as _series_key

LATENCY_BUCKETS_MS = (0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
                      60000, 300000, 600000, 1800000, 3600000)
_BUCKET_LABELS = [repr(float(b)) if b != int(b) else str(int(b)) for b in LATENCY_BUCKETS_MS]
_SECONDS_LABELS = [repr(b / 1000.0) for b in LATENCY_BUCKETS_MS]  # the same bounds in s


_KEY_CACHE: Dict[Any, SeriesKey] = {}


def series_key(name: str, labels: Dict[str, str]) -> SeriesKey:
    """Cached `twin.promwrite.series_key` (the same label sets recur every step)."""
    cache_key = (name, tuple(labels.items()))
    key = _KEY_CACHE.get(cache_key)
    if key is None:
        if len(_KEY_CACHE) > 2_000_000:
            _KEY_CACHE.clear()
        key = _series_key(name, labels)
        _KEY_CACHE[cache_key] = key
    return key


def _fast_noise(seed_bytes: bytes, tick: int) -> float:
    """Deterministic pseudo-random number in [0, 1) for (pod, tick); one C call."""
    return (zlib.crc32(seed_bytes, tick & 0xFFFFFFFF) & 0xFFFFFF) / float(0x1000000)


def _unit_noise(*parts: Any) -> float:
    """Deterministic pseudo-random number in [0, 1) from the given parts."""
    return (zlib.crc32("|".join(str(p) for p in parts).encode()) & 0xFFFFFF) / float(0x1000000)


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _interp(points: List[Tuple[float, float]], t: float) -> float:
    if not points:
        return 1.0
    if t <= points[0][0]:
        return points[0][1]
    for (t0, v0), (t1, v1) in zip(points, points[1:]):
        if t <= t1:
            return v0 if t1 == t0 else v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    return points[-1][1]


def throttle_ratio(demand: float, limit: Optional[float]) -> float:
    """Share of CFS periods throttled for a CPU demand against a limit (cores)."""
    if not limit or demand <= 0:
        return 0.0
    load = demand / limit
    if load <= 0.6:
        return 0.005 * load
    return min(0.95, 0.003 + (load - 0.6) * 0.9)

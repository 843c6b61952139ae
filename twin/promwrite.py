"""Prometheus remote-write client: hand-encoded protobuf WriteRequest, all-literal snappy block.

A series is identified by a `SeriesKey`: a tuple of (label name, label value) pairs sorted by
name, `__name__` included (see `series_key`). Label bytes are encoded once per key and cached,
so a step of a million series costs one dict lookup and ~20 bytes of new encoding per series.
"""
from __future__ import annotations

import http.client
import struct
import urllib.parse
from typing import Dict, Iterable, List, Optional, Tuple

SeriesKey = Tuple[Tuple[str, str], ...]
STALE_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
_STALE_BITS = struct.pack("<Q", 0x7FF0000000000002)
_pack_double = struct.Struct("<d").pack


class RemoteWriteError(RuntimeError):
    """Prometheus rejected a remote-write request."""


def series_key(name: str, labels: Dict[str, str]) -> SeriesKey:
    """The canonical key of a series: sorted (name, value) pairs including `__name__`."""
    pairs = [("__name__", name)]
    pairs.extend((k, str(v)) for k, v in labels.items() if v is not None and v != "")
    pairs.sort()
    return tuple(pairs)


def key_name(key: SeriesKey) -> str:
    """The metric name of a series key."""
    for label, value in key:
        if label == "__name__":
            return value
    return ""


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field_bytes(field_tag: int, payload: bytes) -> bytes:
    return bytes([field_tag]) + _varint(len(payload)) + payload


_PAIR_CACHE: Dict[Tuple[str, str], bytes] = {}


def _pair_bytes(name: str, value: str) -> bytes:
    body = _field_bytes(0x0A, name.encode()) + _field_bytes(0x12, value.encode())
    return _field_bytes(0x0A, body)


def encode_labels(key: SeriesKey) -> bytes:
    """TimeSeries field 1 (repeated Label{name=1, value=2}) for every label of `key`."""
    parts = []
    cache = _PAIR_CACHE
    for pair in key:
        encoded = cache.get(pair)
        if encoded is None:
            encoded = _pair_bytes(*pair)
            if len(cache) < 200_000:
                cache[pair] = encoded
        parts.append(encoded)
    return b"".join(parts)


def _sample_bytes(value: float, ts_varint: bytes) -> bytes:
    value_bytes = _STALE_BITS if value is STALE_NAN else _pack_double(value)
    body = b"\x09" + value_bytes + b"\x10" + ts_varint
    return b"\x12" + bytes([len(body)]) + body


def snappy_literal_block(data: bytes) -> bytes:
    """`data` as a valid snappy block made of one literal (no compression, no dependency)."""
    length = len(data)
    if length == 0:
        return b"\x00"
    header = _varint(length)
    if length - 1 < 60:
        tag = bytes([(length - 1) << 2])
    else:
        tag = b"\xfc" + struct.pack("<I", length - 1)
    return header + tag + data


class RemoteWriter:
    """Posts samples to `<prometheus>/api/v1/write`; keeps one HTTP connection open."""

    def __init__(self, base_url: str, timeout_s: float = 60.0,
                 max_series_per_request: int = 50000) -> None:
        parsed = urllib.parse.urlparse(base_url)
        self._host = parsed.hostname or "127.0.0.1"
        self._port = parsed.port or 80
        self._path = (parsed.path.rstrip("/") or "") + "/api/v1/write"
        self._timeout_s = timeout_s
        self._max_series = max_series_per_request
        self._label_cache: Dict[SeriesKey, bytes] = {}
        self._prefix_by_id: Dict[int, bytes] = {}
        self._conn = None
        self.requests_sent = 0
        self.samples_sent = 0
        self.bytes_sent = 0

    def _labels(self, key: SeriesKey) -> bytes:
        cached = self._label_cache.get(key)
        if cached is None:
            cached = encode_labels(key)
            self._label_cache[key] = cached
        return cached

    def _prefix(self, key: SeriesKey) -> bytes:
        """Field tag + length + labels of a one-sample TimeSeries (6-byte ms timestamps)."""
        prefix = self._prefix_by_id.get(id(key))
        if prefix is None:
            labels = self._labels(key)
            prefix = b"\x0a" + _varint(len(labels) + 18) + labels
            if len(self._prefix_by_id) > 4_000_000:
                self._prefix_by_id.clear()
                self._label_cache.clear()
                self._label_cache[key] = labels
            self._prefix_by_id[id(key)] = prefix
        return prefix

    def encode_step(self, ts_ms: int, samples: Iterable[Tuple[SeriesKey, float]]) -> List[bytes]:
        """Encoded TimeSeries messages, one sample each at `ts_ms`."""
        ts_varint = _varint(int(ts_ms))
        if len(ts_varint) != 6:
            return [self.encode_series(key, [(ts_ms, value)]) for key, value in samples]
        suffix = b"\x10" + ts_varint
        prefixes = self._prefix_by_id
        prefix_of = self._prefix
        pack = _pack_double
        stale = _STALE_BITS
        out = []
        append = out.append
        for key, value in samples:
            prefix = prefixes.get(id(key)) or prefix_of(key)
            append(b"".join((prefix, b"\x12\x10\x09",
                             stale if value is STALE_NAN else pack(value), suffix)))
        return out

    def encode_series(self, key: SeriesKey, points: Iterable[Tuple[int, float]],
                      ts_cache: Optional[Dict[int, bytes]] = None) -> bytes:
        """One encoded TimeSeries with many (ts_ms, value) samples in time order."""
        cache = ts_cache if ts_cache is not None else {}
        pack = _pack_double
        parts = [self._labels(key)]
        append = parts.append
        for ts_ms, value in points:
            tail = cache.get(ts_ms)
            if tail is None:
                ts_varint = _varint(int(ts_ms))
                tail = b"\x10" + ts_varint
                cache[ts_ms] = tail
            append(b"\x12" + bytes([9 + len(tail)]) + b"\x09")
            append(_STALE_BITS if value is STALE_NAN else pack(value))
            append(tail)
        body = b"".join(parts)
        return b"\x0a" + _varint(len(body)) + body

    def write_step(self, ts_s: float, samples: Iterable[Tuple[SeriesKey, float]]) -> int:
        """Write one sample per series at `ts_s` (epoch seconds); returns the sample count."""
        encoded = self.encode_step(int(round(ts_s * 1000)), samples)
        self._post_chunks(encoded)
        return len(encoded)

    def write_series(self, series: Dict[SeriesKey, List[Tuple[int, float]]]) -> int:
        """Write many samples per series (ts_ms ascending); returns the sample count."""
        ts_cache: Dict[int, bytes] = {}
        encoded = [self.encode_series(key, points, ts_cache)
                   for key, points in series.items() if points]
        self._post_chunks(encoded)
        return sum(len(points) for points in series.values())

    def _post_chunks(self, encoded: List[bytes]) -> None:
        step = self._max_series
        for start in range(0, len(encoded), step):
            chunk = encoded[start:start + step]
            self.post_raw(b"".join(chunk))
            self.samples_sent += len(chunk)

    def post_raw(self, write_request: bytes) -> None:
        """POST one serialized WriteRequest (snappy-framed here)."""
        if not write_request:
            return
        body = snappy_literal_block(write_request)
        headers = {
            "Content-Encoding": "snappy",
            "Content-Type": "application/x-protobuf",
            "X-Prometheus-Remote-Write-Version": "0.1.0",
            "User-Agent": "self-healing-twin",
        }
        for attempt in range(2):
            conn = self._connection()
            try:
                conn.request("POST", self._path, body=body, headers=headers)
                response = conn.getresponse()
                text = response.read()
            except (http.client.HTTPException, OSError):
                self.close()
                if attempt:
                    raise
                continue
            if response.status >= 300:
                raise RemoteWriteError(f"remote write HTTP {response.status}: {text[:500]!r}")
            self.requests_sent += 1
            self.bytes_sent += len(body)
            return

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self._host, self._port,
                                                    timeout=self._timeout_s)
        return self._conn

    def close(self) -> None:
        """Close the kept-alive connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _bench(series: int = 1_000_000, steps: int = 3) -> None:
    """`python -m twin.promwrite [SERIES] [STEPS]`: encode and write figures (prints them)."""
    import time

    from twin.prometheus import PrometheusServer
    keys = [series_key("container_memory_working_set_bytes", {
        "namespace": f"team-{i % 50:02d}", "pod": f"svc-{i // 10:05d}-x7k2p-{i % 10:05d}",
        "container": f"svc-{i // 10:05d}", "node": f"node-{i // 30:05d}"})
        for i in range(series)]
    writer = RemoteWriter("http://127.0.0.1:1")
    for label in ("cold", "warm"):
        started = time.monotonic()
        writer.encode_step(1_900_000_000_000, ((k, 1.0) for k in keys))
        print(f"encode {series} series ({label} label cache): "
              f"{time.monotonic() - started:.2f} s")
    with PrometheusServer() as prom:
        writer = RemoteWriter(prom.url)
        for step in range(steps):
            started = time.monotonic()
            writer.write_step(1_900_000_000 + 15 * step, ((k, float(step)) for k in keys))
            print(f"write step {step}: {time.monotonic() - started:.2f} s "
                  f"({writer.bytes_sent / 2 ** 20:.0f} MiB sent so far)")
        writer.close()


if __name__ == "__main__":
    import sys
    _bench(*(int(arg) for arg in sys.argv[1:3]))

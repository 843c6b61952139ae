"""The world writes real samples into a real Prometheus at virtual timestamps."""
import json
import math
import urllib.parse
import urllib.request

import pytest
from world_harness import world_after_onset

from twin.prometheus import PrometheusServer
from twin.promwrite import (STALE_NAN, RemoteWriter, encode_labels, series_key,
                            snappy_literal_block)


def query(url, expr, at):
    full = url + "/api/v1/query?" + urllib.parse.urlencode({"query": expr, "time": at})
    with urllib.request.urlopen(full, timeout=10) as response:
        body = json.loads(response.read())
    assert body["status"] == "success", body
    return body["data"]["result"]


def test_snappy_literal_block_frames_length_and_literal():
    block = snappy_literal_block(b"abc")
    assert block == b"\x03" + bytes([(3 - 1) << 2]) + b"abc"
    big = snappy_literal_block(b"x" * 300)
    assert big[:2] == b"\xac\x02" and big[2] == 0xFC and len(big) == 2 + 5 + 300


def test_series_key_is_sorted_and_encodes_every_label():
    key = series_key("m", {"pod": "p", "namespace": "n"})
    assert [name for name, _ in key] == ["__name__", "namespace", "pod"]
    encoded = encode_labels(key)
    assert b"__name__" in encoded and b"namespace" in encoded and b"p" in encoded


def test_remote_write_and_stale_marker_in_real_prometheus():
    with PrometheusServer() as prom:
        writer = RemoteWriter(prom.url)
        start = 1900000000.0
        key = series_key("twin_test_gauge", {"pod": "a"})
        writer.write_series({key: [(int((start + i * 15) * 1000), float(i)) for i in range(20)]})
        assert query(prom.url, "twin_test_gauge", start + 19 * 15)[0]["value"][1] == "19"
        writer.write_step(start + 20 * 15, [(key, STALE_NAN)])
        assert query(prom.url, "twin_test_gauge", start + 20 * 15 + 1) == []
        writer.close()


@pytest.fixture(scope="module")
def seed_world():
    with world_after_onset("seed-0317-memory-leak", 0, start_prometheus=True) as world:
        yield world


def test_leak_series_answers_deriv_at_virtual_time(seed_world):
    world = seed_world
    now = world.clock.now()
    result = query(world.prometheus_url, 'deriv(container_memory_working_set_bytes{'
                   'namespace="production",container="analytics-worker"}[1h])', now)
    leaking = [r for r in result if r["metric"]["node"] == "gke-prod-pool-1-abc123"
               and float(r["value"][1]) > 0]
    assert len(leaking) >= 3
    assert all(r["value"][0] == pytest.approx(now) for r in result)
    slope_mib_per_min = max(float(r["value"][1]) for r in leaking) * 60 / 2 ** 20
    assert 5 < slope_mib_per_min < 14, slope_mib_per_min
    # the same query an hour earlier (before the deploy) sees no leaking v1.4.2 pod
    earlier = query(world.prometheus_url, 'deriv(container_memory_working_set_bytes{'
                    'container="analytics-worker"}[10m]) > 20000', now - 3600)
    assert earlier == []


def test_seed_numbers_at_onset(seed_world):
    world = seed_world
    now = world.clock.now()
    node = 'node="gke-prod-pool-1-abc123"'
    used = query(world.prometheus_url, f"100 * (1 - node_memory_MemAvailable_bytes{{{node}}}"
                 f" / node_memory_MemTotal_bytes{{{node}}})", now)
    assert 90 <= float(used[0]["value"][1]) <= 93
    growth = query(world.prometheus_url, f"-100 * 60 * deriv(node_memory_MemAvailable_bytes"
                   f"{{{node}}}[5m]) / on(node) node_memory_MemTotal_bytes{{{node}}}", now)
    assert 1.6 <= float(growth[0]["value"][1]) <= 2.4
    top = query(world.prometheus_url, 'max(container_memory_working_set_bytes{'
                'container="analytics-worker"})', now)
    assert 3.0 * 2 ** 30 <= float(top[0]["value"][1]) <= 3.4 * 2 ** 30
    assert not math.isnan(world.key_metric_series()[-1][1])

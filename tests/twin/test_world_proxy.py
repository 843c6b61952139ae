"""Prometheus fault proxy and NATS down/up, against the real binaries."""
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from twin.natsd import NatsServer
from twin.prometheus import PrometheusServer
from twin.promproxy import PromProxy
from twin.promwrite import RemoteWriter, series_key

T0 = 1900000000.0


@pytest.fixture(scope="module")
def proxy():
    with PrometheusServer() as prom:
        writer = RemoteWriter(prom.url)
        key = series_key("twin_proxy_gauge", {"pod": "a"})
        writer.write_series({key: [(int((T0 + i * 15) * 1000), float(i)) for i in range(120)]})
        writer.close()
        proxy = PromProxy(prom.url).start()
        yield proxy
        proxy.stop()


def get(proxy, expr="twin_proxy_gauge", at=T0 + 100 * 15, timeout=5):
    url = proxy.url + "/api/v1/query?" + urllib.parse.urlencode({"query": expr, "time": at})
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read()


@pytest.fixture(autouse=True)
def clear(proxy):
    proxy.faults.clear()
    yield
    proxy.faults.clear()


def test_passthrough(proxy):
    status, body = get(proxy)
    assert status == 200
    assert json.loads(body)["data"]["result"][0]["value"][1] == "100"


def test_down_refuses_connections_then_recovers(proxy):
    proxy.faults.inject("down")
    with pytest.raises(urllib.error.URLError):
        get(proxy)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=1).close()
    proxy.faults.clear("down")
    assert get(proxy)[0] == 200


def test_down_503(proxy):
    proxy.faults.inject("down", how="503")
    with pytest.raises(urllib.error.HTTPError) as info:
        get(proxy)
    assert info.value.code == 503


def test_error_status_and_match(proxy):
    proxy.faults.inject("error", status=502, match="other_metric")
    assert get(proxy)[0] == 200
    with pytest.raises(urllib.error.HTTPError) as info:
        get(proxy, expr="other_metric")
    assert info.value.code == 502
    assert json.loads(info.value.read())["status"] == "error"


def test_slow(proxy):
    proxy.faults.inject("slow", delay_s=0.5)
    started = time.monotonic()
    get(proxy)
    assert time.monotonic() - started >= 0.5
    with pytest.raises(OSError):
        proxy.faults.inject("slow", delay_s=2.0)
        get(proxy, timeout=0.5)


def test_garbage_body_is_not_json(proxy):
    proxy.faults.inject("garbage")
    status, body = get(proxy)
    assert status == 200
    with pytest.raises(ValueError):
        json.loads(body)


def test_stale_answers_as_of_an_older_time(proxy):
    proxy.faults.inject("stale", seconds=300)
    result = json.loads(get(proxy)[1])["data"]["result"][0]["value"]
    assert result == [T0 + 100 * 15, "80"]  # 300 s = 20 samples older, stamped "now"


def test_nan_values(proxy):
    proxy.faults.inject("nan")
    result = json.loads(get(proxy)[1])["data"]["result"][0]["value"]
    assert result[1] == "NaN"


def test_unknown_fault_kind_rejected(proxy):
    with pytest.raises(ValueError):
        proxy.faults.inject("meteor")


def test_nats_down_and_up_keeps_port():
    server = NatsServer().start()
    try:
        port = server.port
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        server.stop()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        server.start()
        assert server.port == port
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    finally:
        server.stop()


def test_scenario_infra_faults_switch_on_and_off_on_the_virtual_clock():
    from twin.world import World
    world = World.from_scenario("error-rate-spike", start_prometheus=False, start_nats=False)
    try:
        world.start()
        world.run_until(world.onset_epoch + 90)
        assert [f.status for f in world.api_faults.rules] == [503]
        world.run_until(world.onset_epoch + 200)
        assert world.api_faults.rules == []
    finally:
        world.stop()
    world = World.from_scenario("cascading-slowdown-abc", start_prometheus=False)
    try:
        world.start()
        port = world.nats.port
        world.run_until(world.onset_epoch + 200)
        assert not world.nats.running
        world.run_until(world.onset_epoch + 320)
        assert world.nats.running and world.nats.port == port
    finally:
        world.stop()


def test_scenario_prometheus_fault_goes_through_the_proxy():
    from twin.world import World
    world = World.from_scenario("certificate-expiry", start_nats=False)
    try:
        world.start()
        world.run_until(world.onset_epoch + 150)
        assert world.prom_faults.active() == {"slow": {"delay_s": 1.5}}
        world.run_until(world.onset_epoch + 250)
        assert world.prom_faults.active() == {}
        status, body = get(world.proxy, "certmanager_certificate_expiration_timestamp_seconds",
                           world.clock.now())
        names = {r["metric"]["name"] for r in json.loads(body)["data"]["result"]}
        assert names == {"api-tls", "internal-mtls"}
    finally:
        world.stop()

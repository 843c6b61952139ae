"""Fixtures of the detector tests: a throw-away real Prometheus per test (starts in ~0.1 s,
so no test sees another's series or TSDB compactions)."""
import pytest

from lib import clock
from support.detector_fakes import FakePrometheus, PromData, have_prometheus

BASE_EPOCH = 1795833600.0  # 2026-11-28T00:00:00Z
NOW = 1795835842.0  # 2026-11-28T03:17:22Z


@pytest.fixture
def now():
    """The pack clock fixed at NOW; the test moves it by setting `now["t"]`."""
    current = {"t": NOW}
    clock.set_time_source(lambda: current["t"])
    yield current
    clock.reset()


@pytest.fixture
def prometheus_server():
    if not have_prometheus():
        pytest.skip("prometheus binary not installed")
    from twin.prometheus import PrometheusServer
    from twin.promwrite import RemoteWriter

    server = PrometheusServer().start()
    writer = RemoteWriter(server.url)
    try:
        yield server, writer
    finally:
        writer.close()
        server.stop()


@pytest.fixture
def promdata(prometheus_server):
    """A PromData whose `now` is a fresh virtual time; the pack clock is set to it."""
    server, writer = prometheus_server
    now = BASE_EPOCH + 86400
    clock.set_time_source(lambda: now)
    data = PromData(writer, now)
    data.url = server.url
    yield data
    clock.reset()


@pytest.fixture
def fake_prom():
    fake = FakePrometheus()
    clock.set_time_source(lambda: BASE_EPOCH)
    yield fake
    fake.stop()
    clock.reset()

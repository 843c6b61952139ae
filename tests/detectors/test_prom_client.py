"""lib.prom against a misbehaving Prometheus: every failure is one clear PrometheusError."""
import socket
import time

import pytest

from lib import clock
from lib.prom import Prom, PrometheusError, label_regex
from support.detector_fakes import matrix, vector


def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return "http://127.0.0.1:%d" % port


def test_instant_query_at_pack_clock_with_bearer_token(fake_prom):
    fake_prom.handler = lambda q, p: [vector({"node": "a"}, "1.5")]
    samples = Prom(fake_prom.url, bearer_token="s3cret", timeout_s=2).query("up")
    assert [(s.labels, s.value) for s in samples] == [({"node": "a"}, 1.5)]
    request = fake_prom.requests[-1]
    assert request["path"] == "/api/v1/query"
    assert float(request["time"]) == clock.now()
    assert request["authorization"] == "Bearer s3cret"


def test_no_authorization_header_without_token(fake_prom):
    Prom(fake_prom.url, timeout_s=2).query("up")
    assert fake_prom.requests[-1]["authorization"] == ""


def test_nan_inf_and_stale_samples_are_dropped(fake_prom):
    now = clock.now()
    fake_prom.handler = lambda q, p: [
        vector({"i": "nan"}, "NaN"), vector({"i": "inf"}, "+Inf"), vector({"i": "ok"}, "2"),
        vector({"i": "old"}, "3", ts=now - 3600)]
    samples = Prom(fake_prom.url, timeout_s=2).query("x")
    assert [s.labels["i"] for s in samples] == ["ok"]


def test_range_query_ends_now_and_drops_bad_points(fake_prom):
    now = clock.now()
    fake_prom.handler = lambda q, p: [
        matrix({"i": "a"}, [(now - 30, "1"), (now - 15, "NaN"), (now, "3")]),
        matrix({"i": "empty"}, [(now, "NaN")])]
    series = Prom(fake_prom.url, timeout_s=2).query_range("x", 600, 15)
    assert [(s.labels["i"], s.points) for s in series] == [("a", [(now - 30, 1.0), (now, 3.0)])]
    request = fake_prom.requests[-1]
    assert request["path"] == "/api/v1/query_range"
    assert int(request["end"]) == round(now) and int(request["start"]) == round(now - 600)
    assert request["step"] == "15s"


def test_unreachable():
    with pytest.raises(PrometheusError, match="unreachable"):
        Prom(closed_port_url(), timeout_s=1).query("up")


def test_slow_answer_times_out_without_waiting_twice(fake_prom):
    fake_prom.mode = "slow"
    fake_prom.delay_s = 1.6
    started = time.monotonic()
    with pytest.raises(PrometheusError, match="did not answer"):
        Prom(fake_prom.url, timeout_s=1).query("up")
    assert time.monotonic() - started < 1.5
    assert len(fake_prom.requests) == 1


@pytest.mark.parametrize("mode, attempts", [("500", 1), ("503", 2)])
def test_http_errors(fake_prom, mode, attempts):
    fake_prom.mode = mode
    with pytest.raises(PrometheusError, match=mode):
        Prom(fake_prom.url, timeout_s=2).query("up")
    assert len(fake_prom.requests) == attempts  # gateway errors get one quick retry


@pytest.mark.parametrize("mode", ["garbage", "badshape"])
def test_garbage_answers(fake_prom, mode):
    fake_prom.mode = mode
    with pytest.raises(PrometheusError, match="garbage"):
        Prom(fake_prom.url, timeout_s=2).query("up")
    with pytest.raises(PrometheusError, match="garbage"):
        Prom(fake_prom.url, timeout_s=2).query_range("up", 60, 15)


def test_label_regex_escapes_and_dedupes():
    assert label_regex(["b", "a.b", "b"]) == "a\\\\.b|b"

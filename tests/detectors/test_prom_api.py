"""lib.prom_api, the pack's own Prometheus HTTP client: requests, answers and every error path."""
import http.server
import socket
import threading
import time

import pytest
from requests.adapters import HTTPAdapter

from lib.prom_api import PromAPI, PrometheusError


class RawServer(object):
    """A loopback HTTP server answering every GET with (status, content type, body)."""

    def __init__(self, status: int, body: bytes, content_type: str = "application/json"):
        self.hits = 0
        self.queries = []
        raw = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                raw.hits += 1
                raw.queries.append(self.path)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(status, body, content_type="application/json"):
        servers.append(RawServer(status, body, content_type))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return "http://127.0.0.1:%d" % port


def test_success_returns_result_and_sends_query_and_params(serve):
    server = serve(200, b'{"status":"success","data":{"resultType":"vector","result":'
                        b'[{"metric":{"a":"1"},"value":[1,"2"]}]}}')
    api = PromAPI(server.url + "/", timeout_s=2)
    assert api.url == server.url
    result = api.get("query", 'up{job="x"}', {"time": "12.000"})
    assert result == [{"metric": {"a": "1"}, "value": [1, "2"]}]
    path = server.queries[-1]
    assert path.startswith("/api/v1/query?") and "time=12.000" in path
    assert "query=up%7Bjob%3D%22x%22%7D" in path
    api.close()


def test_prometheus_error_body_is_quoted_with_its_status(serve):
    server = serve(400, b'{"status":"error","errorType":"bad_data","error":"parse error at 3"}')
    with pytest.raises(PrometheusError, match=r"failed query up\(: HTTP 400 bad_data: parse error"):
        PromAPI(server.url, timeout_s=2).get("query", "up(", {})
    assert server.hits == 1  # client errors are not retried


def test_http_error_without_json_body_shows_the_text(serve):
    server = serve(502, b"Bad Gateway from the proxy", "text/plain")
    with pytest.raises(PrometheusError, match=r"HTTP 502 \(Bad Gateway from the proxy\)"):
        PromAPI(server.url, timeout_s=2).get("query_range", "up", {})
    assert server.hits == 2  # one quick retry for a gateway error


def test_status_error_in_a_200_answer_is_an_error(serve):
    server = serve(200, b'{"status":"error","errorType":"timeout","error":"query timed out"}')
    with pytest.raises(PrometheusError, match="status 'error' timeout: query timed out"):
        PromAPI(server.url, timeout_s=2).get("query", "up", {})


@pytest.mark.parametrize("body", [b"", b"<html>login</html>", b"[1, 2]", b'"text"'])
def test_a_body_that_is_not_an_answer_object_is_garbage(serve, body):
    server = serve(200, body)
    with pytest.raises(PrometheusError, match="answered garbage"):
        PromAPI(server.url, timeout_s=2).get("query", "up", {})


@pytest.mark.parametrize("data", [b'null', b'{"resultType":"vector"}', b'{"result":"x"}',
                                  b'{"result":[1,2]}', b'{"result":[{"a":1}, "b"]}'])
def test_success_without_a_result_list_of_objects_is_garbage(serve, data):
    server = serve(200, b'{"status":"success","data":' + data + b'}')
    with pytest.raises(PrometheusError, match="answered garbage"):
        PromAPI(server.url, timeout_s=2).get("query", "up", {})


def test_refused_connection_is_unreachable_after_one_quick_retry():
    started = time.monotonic()
    with pytest.raises(PrometheusError, match=r"unreachable \(ConnectionError\)"):
        PromAPI(closed_port_url(), timeout_s=2).get("query", "up", {})
    assert time.monotonic() - started < 1.5


def test_unresolvable_host_is_unreachable():
    with pytest.raises(PrometheusError, match="unreachable"):
        PromAPI("http://prometheus.invalid:9090", timeout_s=2).get("query", "up", {})


def test_a_silent_server_times_out_once():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections, never answers
    url = "http://127.0.0.1:%d" % listener.getsockname()[1]
    try:
        started = time.monotonic()
        with pytest.raises(PrometheusError, match=r"did not answer query within 0.5s: up"):
            PromAPI(url, timeout_s=0.5).get("query", "up", {})
        assert time.monotonic() - started < 0.95
    finally:
        listener.close()


def test_bearer_token_and_tls_verification_are_set_on_the_session():
    api = PromAPI("https://prom.example:9090", bearer_token="t0k", verify_tls=False)
    assert api.session.headers["Authorization"] == "Bearer t0k"
    assert api.session.verify is False
    assert isinstance(api.session.get_adapter("https://prom.example"), HTTPAdapter)
    plain = PromAPI("https://prom.example:9090")
    assert "Authorization" not in plain.session.headers and plain.session.verify is True


@pytest.mark.parametrize("url, timeout, message", [
    ("prom:9090", 1, "must start with http"), ("", 1, "must start with http"),
    (None, 1, "must start with http"), ("http://p", 0, "timeout_s must be > 0")])
def test_bad_settings_are_rejected_clearly(url, timeout, message):
    with pytest.raises(ValueError, match=message):
        PromAPI(url, timeout_s=timeout)


def test_unknown_endpoint_is_rejected():
    with pytest.raises(ValueError, match="unknown Prometheus endpoint 'series'"):
        PromAPI("http://127.0.0.1:9").get("series", "up", {})

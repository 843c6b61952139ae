"""Metric presets (lib.metric_presets): the default renders today's Istio/HikariCP queries,
each preset's detectors fire on a real Prometheus fed with that stack's metric names (latency
converted to ms), overrides and bad values are checked when the config is loaded."""
import pytest

from lib import dependency_graph, metric_presets
from lib.config import ConfigError, load_settings
from lib.detectors import REGISTRY
from lib.detectors.base import POD_SHARDS
from lib.prom import Prom
from support.detector_fakes import settings


def cfg(**sources):
    return load_settings({"metric_sources": sources,
                          "prometheus": {"url": "http://127.0.0.1:9", "timeout_s": 2}},
                         environ={})


# ------------------------------------------------------------------ default unchanged
def test_default_preset_renders_the_istio_and_hikaricp_queries_of_before():
    rate = REGISTRY["error_rate"](settings(), Prom("http://127.0.0.1:9"))
    assert rate._ratio("", "5m", min_rps=0.1) == (
        'sum by(destination_workload, destination_workload_namespace) (rate(istio_requests_total'
        '{reporter="destination",response_code=~"5.."}[5m])) / on(destination_workload, '
        'destination_workload_namespace) (sum by(destination_workload, '
        'destination_workload_namespace) (rate(istio_requests_total{reporter="destination"}'
        '[5m])) > 0.1)')
    latency = REGISTRY["latency_anomaly"](settings(), Prom("http://127.0.0.1:9"))
    assert latency._p99('destination_workload=~"a"', "5m", "1h") == (
        "histogram_quantile(0.99, sum by(destination_workload, destination_workload_namespace,"
        ' le) (rate(istio_request_duration_milliseconds_bucket{reporter="destination",'
        'destination_workload=~"a"}[5m] offset 1h)))')
    pool = REGISTRY["connection_pool"](settings(), Prom("http://127.0.0.1:9"))
    assert pool.freshness_query == "time() - max(timestamp(hikaricp_connections_max))"
    assert dependency_graph.TRAFFIC_QUERY == (
        'sum by (source_workload, destination_workload) '
        '(rate(istio_requests_total{reporter="destination"}[10m])) > 0')
    assert metric_presets.verification_query(settings(), "pool_pending", "prod", ["orders"]) \
        == 'sum(hikaricp_connections_pending{namespace="prod",service="orders"})'


def test_verification_queries_follow_the_preset_and_convert_seconds():
    otel = cfg(http_preset="otel")
    p99 = metric_presets.verification_query(otel, "p99_ms", "shop", ["cart"])
    assert p99 == ("(histogram_quantile(0.99, sum by(le) (rate("
                   'http_server_request_duration_seconds_bucket{service_name="cart",'
                   'k8s_namespace_name="shop"}[2m]))) * 1000)')
    errors = metric_presets.verification_query(cfg(http_preset="linkerd"),
                                               "dependents_error_ratio", "shop", ["a", "b"])
    assert 'response_total{direction="inbound",classification="failure",namespace="shop",' \
        'deployment=~"a|b"}' in errors and errors.startswith("max(sum by(deployment)")
    with pytest.raises(metric_presets.PresetError, match="check: must be one of"):
        metric_presets.verification_query(otel, "p50", "shop", ["cart"])


def test_now_checks_read_the_last_two_samples_of_the_same_series():
    otel = cfg(http_preset="otel")
    for check in ("p99_ms", "error_ratio"):
        windowed = metric_presets.verification_query(otel, check, "shop", ["cart"], "3m")
        now = metric_presets.verification_query(otel, check + "_now", "shop", ["cart"], "3m")
        assert "irate(" not in windowed and now.count("irate(") == windowed.count("rate(")
        assert now == windowed.replace("rate(", "irate(")


def test_traffic_edges_per_preset():
    linkerd = cfg(http_preset="linkerd")
    rows = [{"metric": {"deployment": "web", "dst_deployment": "api"}, "value": [0, "2"]}]
    seen = []
    assert dependency_graph.traffic_edges(lambda q: seen.append(q) or rows, linkerd) == [
        ("web", "api")]
    assert seen == ['sum by (deployment, dst_deployment) (rate(response_total'
                    '{direction="outbound"}[10m])) > 0']
    otel_rows = [{"metric": {"service_name": "web",
                             "server_address": "api.shop.svc.cluster.local"}}]
    assert dependency_graph.traffic_edges(lambda q: otel_rows, cfg(http_preset="otel")) == [
        ("web", "api")]
    # ingress-nginx knows no callers: no query at all
    assert dependency_graph.traffic_edges(lambda q: pytest.fail(q),
                                          cfg(http_preset="ingress-nginx")) == []


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize("sources, message", [
    ({"http_preset": "envoy"}, "metric_sources.http_preset: must be one of"),
    ({"pool_preset": "c3p0"}, "metric_sources.pool_preset: must be one of"),
    ({"http": {"requests": 'my_requests_total{code!=""}'}},
     "metric_sources.http.requests: missing placeholder(s) $sel"),
    ({"http": {"errors": 'my_requests_total{code=~"5..",$sel,$service}'}},
     "metric_sources.http.errors: unknown placeholder(s) $service"),
    ({"http": {"latency_bucket": "histogram_quantile(0.99, my_bucket{$sel})"}},
     "metric_sources.http.latency_bucket: must be a series selector"),
    ({"http": {"requests": "my_requests_total$sel"}}, "must be a series selector"),
    ({"http": {"requests": 'my_requests_total{$sel,price="$"}'}}, "stray '$'"),
    ({"http": {"service_label": "app.kubernetes.io/name"}},
     "metric_sources.http.service_label: not a Prometheus label name"),
    ({"http": {"latency_unit": "us"}}, "metric_sources.http.latency_unit: must be one of"),
    ({"http": {"window": "5m"}}, "metric_sources.http.window: unknown key"),
    ({"pool": {"pending": ""}}, "metric_sources.pool.pending: must not be empty"),
    ({"http_preset": "ingress-nginx", "http": {"edges": "nginx_ingress_controller_requests"}},
     "needs edge_source_label and edge_destination_label"),
    ({"pool_configmap": {"name": "shared-db-pool"}},
     "metric_sources.pool_configmap.name: missing placeholder(s) $service"),
    ({"pool_configmap": {"name": "$service-$pool"}}, "unknown placeholder(s) $pool"),
    ({"pool_configmap": {"name": "$service_DB"}}, "unknown placeholder(s) $service_DB"),
    ({"pool_configmap": {"name": "${service}_DB"}}, "does not give a ConfigMap name"),
    ({"pool_configmap": {"key": "max pool"}}, "metric_sources.pool_configmap.key"),
])
def test_bad_metric_sources_are_refused_at_load(sources, message):
    with pytest.raises(ConfigError) as raised:
        cfg(**sources)
    assert message in str(raised.value)


def test_overrides_replace_single_selectors_and_labels():
    custom = cfg(http_preset="linkerd", http={
        "errors": 'response_total{direction="inbound",status_code=~"5..",$sel}'},
        pool={"service_label": "app", "namespace_label": "kubernetes_namespace"},
        pool_configmap={"name": "${service}-hikari", "key": "maximumPoolSize"})
    http = metric_presets.http(custom)
    assert http.rate("errors", http.services(["a"]), "5m") == (
        'sum by(deployment, namespace) (rate(response_total{direction="inbound",'
        'status_code=~"5..",deployment=~"a"}[5m]))')
    assert http.rate("requests", "", "5m").endswith('(rate(response_total{direction="inbound"}'
                                                    '[5m]))')
    pool = metric_presets.pool(custom)
    assert pool.total("pending", pool.services(["orders"])) == (
        'sum by(kubernetes_namespace, app) (hikaricp_connections_pending{app=~"orders"})')
    assert metric_presets.pool_configmap(custom, "prod", "orders") == (
        "orders-hikari", "maximumPoolSize")


# ------------------------------------------------------------------ each preset on Prometheus
# literal metric shapes of each stack (what its exporter writes), independent of the module
HTTP_SHAPES = {
    "istio": {"requests": "istio_requests_total", "code": "response_code",
              "bucket": "istio_request_duration_milliseconds_bucket", "per_code_buckets": False,
              "scale": 1.0, "base": {"reporter": "destination"},
              "svc": "destination_workload", "ns": "destination_workload_namespace"},
    "linkerd": {"requests": "response_total", "code": "status_code",
                "bucket": "response_latency_ms_bucket", "per_code_buckets": False,
                "scale": 1.0, "base": {"direction": "inbound"}, "svc": "deployment",
                "ns": "namespace", "classify": True},
    "ingress-nginx": {"requests": "nginx_ingress_controller_requests", "code": "status",
                      "bucket": "nginx_ingress_controller_request_duration_seconds_bucket",
                      "per_code_buckets": True, "scale": 1000.0,
                      "base": {"ingress": "shop", "method": "GET"},
                      "svc": "exported_service", "ns": "exported_namespace"},
    "otel": {"requests": "http_server_request_duration_seconds_count",
             "code": "http_response_status_code",
             "bucket": "http_server_request_duration_seconds_bucket", "per_code_buckets": True,
             "scale": 1000.0, "base": {"http_request_method": "GET"}, "svc": "service_name",
             "ns": "k8s_namespace_name"},
}
BUCKETS_MS = (50, 100, 250, 500, 1000, 2500)


def _counter(data, name, labels, per_s, start):
    state = {"value": 0.0, "last": None}

    def fn(t):
        if state["last"] is not None:
            state["value"] += per_s(t) * (t - state["last"])
        state["last"] = t
        return state["value"]

    data.add(name, labels, fn, start)


def _traffic(data, shape, service, rps, error_share, fractions, start):
    """Requests by status code and, for the same requests, duration buckets."""
    for code, share in (("200", lambda t: 1 - error_share(t)), ("503", error_share)):
        labels = dict(shape["base"], **{shape["svc"]: service, shape["ns"]: "prod",
                                        shape["code"]: code})
        if shape.get("classify"):
            labels["classification"] = "failure" if code >= "500" else "success"
        _counter(data, shape["requests"], labels, lambda t, s=share: rps(t) * s(t), start)
        if not shape["per_code_buckets"] and code != "200":
            continue
        bucket_base = dict(labels) if shape["per_code_buckets"] else dict(
            shape["base"], **{shape["svc"]: service, shape["ns"]: "prod"})
        weight = share if shape["per_code_buckets"] else (lambda t: 1.0)
        for index, le in enumerate(BUCKETS_MS + ("+Inf",)):
            label = "+Inf" if le == "+Inf" else repr(le / shape["scale"]) \
                if shape["scale"] != 1.0 else str(le)
            _counter(data, shape["bucket"], dict(bucket_base, le=label),
                     lambda t, i=index, w=weight: rps(t) * w(t) * sum(fractions(t)[:i + 1]),
                     start)


def _run(name, data, conf):
    data.flush()
    detector = REGISTRY[name](conf, Prom(data.url))
    for _ in POD_SHARDS:
        signals = detector.detect(data.now)
    return {s.target["name"]: s for s in signals}, detector


@pytest.mark.parametrize("preset", sorted(HTTP_SHAPES))
def test_http_detectors_fire_on_each_preset(promdata, preset):
    shape, now = HTTP_SHAPES[preset], promdata.now
    start, change = now - 2 * 3600, now - 480
    normal = [0.995, 0.005, 0, 0, 0, 0, 0]
    slow = [0.90, 0, 0, 0, 0.10, 0, 0]
    _traffic(promdata, shape, "billing", lambda t: 10.0,
             lambda t: 0.2 if t >= now - 600 else 0.0, lambda t: normal, start)
    _traffic(promdata, shape, "checkout", lambda t: 10.0, lambda t: 0.0,
             lambda t: slow if t >= change else normal, start)
    _traffic(promdata, shape, "steady", lambda t: 10.0, lambda t: 0.01,
             lambda t: normal, start)
    conf = cfg(http_preset=preset)
    errors, detector = _run("error_rate", promdata, conf)
    assert set(errors) == {"billing"}
    assert errors["billing"].metadata["error_ratio"] == pytest.approx(0.2, abs=0.01)
    assert errors["billing"].target["namespace"] == "prod"
    assert detector.data_age() is not None
    slow_found, detector = _run("latency_anomaly", promdata, conf)
    assert set(slow_found) == {"checkout"}
    meta = slow_found["checkout"].metadata
    # milliseconds whatever the histogram's unit
    assert meta["p99_ms"] > 500 and meta["baseline_p99_ms"] < 100
    # the same data read with another stack's preset: nothing, and blind, not "healthy"
    other = "linkerd" if preset == "istio" else "istio"
    blind = REGISTRY["error_rate"](cfg(http_preset=other), Prom(promdata.url))
    assert blind.detect(now) == []
    assert blind.data_age() is None
    assert "blind" in blind.source_missing and preset in blind.source_missing


POOL_SHAPES = {
    "hikaricp": lambda svc: [("hikaricp_connections_active", {}, "active"),
                             ("hikaricp_connections_max", {}, "max"),
                             ("hikaricp_connections_pending", {}, "pending")],
    "otel": lambda svc: [("db_client_connection_count", {"db_client_connection_state": "used"},
                          "active"),
                         ("db_client_connection_count", {"db_client_connection_state": "idle"},
                          "idle"),
                         ("db_client_connection_max", {}, "max"),
                         ("db_client_connection_pending_requests", {}, "pending")],
}
POOL_LABELS = {"hikaricp": ("service", "namespace"),
               "otel": ("service_name", "k8s_namespace_name")}


@pytest.mark.parametrize("preset", sorted(POOL_SHAPES))
def test_connection_pool_fires_on_each_pool_preset(promdata, preset):
    now = promdata.now
    start = now - 1800
    svc_label, ns_label = POOL_LABELS[preset]
    values = {"inventory": {"active": lambda t: 10 if t >= now - 300 else 4,
                            "idle": lambda t: 0 if t >= now - 300 else 6,
                            "max": lambda t: 10, "pending": lambda t: 5 if t >= now - 300 else 0},
              "busy": {"active": lambda t: 9, "idle": lambda t: 1, "max": lambda t: 10,
                       "pending": lambda t: 0}}
    for service, fields in values.items():
        for metric, extra, field in POOL_SHAPES[preset](service):
            labels = dict(extra, **{svc_label: service, ns_label: "prod",
                                    "pod": service + "-1-a"})
            promdata.add(metric, labels, fields[field], start)
    found, _ = _run("connection_pool", promdata, cfg(pool_preset=preset))
    assert set(found) == {"inventory"}
    meta = found["inventory"].metadata
    assert (meta["active"], meta["max"], meta["pending"]) == (10, 10, 5)
    assert found["inventory"].severity == "high"

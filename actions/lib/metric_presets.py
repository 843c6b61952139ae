"""Where the service detectors read their data: metric "presets" for HTTP and DB-pool metrics.

The detectors error_rate, latency_anomaly and connection_pool, the dependency graph's traffic
edges and the playbooks' verification queries all render their PromQL from one source, chosen
in the pack config (`metric_sources`, see config.schema.yaml and the README, "Other stacks"):

    metric_sources:
      http_preset: linkerd          # istio (default) | linkerd | ingress-nginx | otel
      pool_preset: hikaricp         # hikaricp (default) | otel
      http: {errors: 'response_total{direction="inbound",status_code=~"5..",$sel}'}
      pool: {service_label: app}

A preset is a set of *series selectors* plus the labels that name a service and its namespace.
Each selector is a metric name with a label-matcher body; `$sel` (required) marks where the
pack adds its own matchers (service and namespace of the targets, or nothing for a scan). The
pack wraps the selectors itself (`sum by(...) (rate(<selector>[5m]))`, `histogram_quantile`,
`min_over_time`), so a selector is all an override has to give. `latency_unit` says whether
the histogram's buckets are milliseconds or seconds; thresholds stay milliseconds in the
config, a seconds histogram is multiplied by 1000 in the query.

What each preset relies on (metric and label names as documented by each project):

- istio: `istio_requests_total` and `istio_request_duration_milliseconds_bucket` (Istio's
  standard metrics), `reporter="destination"`, labels `destination_workload`,
  `destination_workload_namespace`, `response_code`; edges from `source_workload`.
- linkerd: the linkerd-proxy's protocol metrics (linkerd.io, reference/proxy-metrics):
  `response_total` (label `classification` = success|failure, `status_code`) and
  `response_latency_ms_bucket` (milliseconds, time to first byte) with `direction="inbound"`;
  the workload is `deployment`, its namespace `namespace`. Edges: outbound `response_total`
  from `deployment` to `dst_deployment`. Error ratio = failure / all responses.
- ingress-nginx: the controller's socket metrics (kubernetes/ingress-nginx, "Prometheus
  metrics"): `nginx_ingress_controller_requests` (label `status`) and
  `nginx_ingress_controller_request_duration_seconds_bucket` (SECONDS), labelled with the
  backend `service`, `namespace`, `ingress`. Scraped through a ServiceMonitor or pod discovery,
  Prometheus renames the colliding `service`/`namespace` to `exported_service`/
  `exported_namespace`, which this preset uses (override the labels with honor_labels).
  No caller information: no traffic edges.
- otel: OpenTelemetry HTTP semantic conventions (opentelemetry.io, semconv http-metrics):
  `http.server.request.duration` (histogram, unit s) with `http.response.status_code`,
  exported to Prometheus as `http_server_request_duration_seconds_{bucket,count}` with
  `http_response_status_code`; resource attributes promoted to labels (the Collector's
  `resource_to_telemetry_conversion`): `service_name`, `k8s_namespace_name`. Edges from
  `http.client.request.duration` (`http_client_request_duration_seconds_count`, label
  `server_address`, whose first DNS label is the called service).
- pool hikaricp: HikariCP's Micrometer/Prometheus gauges `hikaricp_connections_active`,
  `hikaricp_connections_max`, `hikaricp_connections_pending`, labels `service`, `namespace`.
- pool otel: OpenTelemetry database client semantic conventions (semconv database-metrics):
  `db.client.connection.count` (attribute `db.client.connection.state` = used|idle),
  `db.client.connection.max`, `db.client.connection.pending_requests`, exported as
  `db_client_connection_count{db_client_connection_state="used"}`, `db_client_connection_max`,
  `db_client_connection_pending_requests`, with `service_name` / `k8s_namespace_name`.
  (Instrumentations on semconv <= 1.24 emit `db_client_connections_usage{state="used"}` etc.:
  override `pool.active`, `pool.max`, `pool.pending`.)
"""
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

HTTP_PRESETS: Dict[str, Dict[str, str]] = {
    "istio": {
        "requests": 'istio_requests_total{reporter="destination",$sel}',
        "errors": 'istio_requests_total{reporter="destination",response_code=~"5..",$sel}',
        "latency_bucket": 'istio_request_duration_milliseconds_bucket{reporter="destination",$sel}',
        "latency_unit": "ms",
        "service_label": "destination_workload",
        "namespace_label": "destination_workload_namespace",
        "edges": 'istio_requests_total{reporter="destination"}',
        "edge_source_label": "source_workload",
        "edge_destination_label": "destination_workload",
    },
    "linkerd": {
        "requests": 'response_total{direction="inbound",$sel}',
        "errors": 'response_total{direction="inbound",classification="failure",$sel}',
        "latency_bucket": 'response_latency_ms_bucket{direction="inbound",$sel}',
        "latency_unit": "ms",
        "service_label": "deployment",
        "namespace_label": "namespace",
        "edges": 'response_total{direction="outbound"}',
        "edge_source_label": "deployment",
        "edge_destination_label": "dst_deployment",
    },
    "ingress-nginx": {
        "requests": 'nginx_ingress_controller_requests{$sel}',
        "errors": 'nginx_ingress_controller_requests{status=~"5..",$sel}',
        "latency_bucket": 'nginx_ingress_controller_request_duration_seconds_bucket{$sel}',
        "latency_unit": "s",
        "service_label": "exported_service",
        "namespace_label": "exported_namespace",
        "edges": "",
        "edge_source_label": "",
        "edge_destination_label": "",
    },
    "otel": {
        "requests": 'http_server_request_duration_seconds_count{$sel}',
        "errors": ('http_server_request_duration_seconds_count{'
                   'http_response_status_code=~"5..",$sel}'),
        "latency_bucket": 'http_server_request_duration_seconds_bucket{$sel}',
        "latency_unit": "s",
        "service_label": "service_name",
        "namespace_label": "k8s_namespace_name",
        "edges": "http_client_request_duration_seconds_count",
        "edge_source_label": "service_name",
        "edge_destination_label": "server_address",
    },
}
POOL_PRESETS: Dict[str, Dict[str, str]] = {
    "hikaricp": {
        "active": "hikaricp_connections_active{$sel}",
        "max": "hikaricp_connections_max{$sel}",
        "pending": "hikaricp_connections_pending{$sel}",
        "service_label": "service",
        "namespace_label": "namespace",
    },
    "otel": {
        "active": 'db_client_connection_count{db_client_connection_state="used",$sel}',
        "max": "db_client_connection_max{$sel}",
        "pending": "db_client_connection_pending_requests{$sel}",
        "service_label": "service_name",
        "namespace_label": "k8s_namespace_name",
    },
}
DEFAULT_HTTP = "istio"
DEFAULT_POOL = "hikaricp"
# field -> placeholders it must contain (it may contain no others)
HTTP_SELECTORS = {"requests": ("sel",), "errors": ("sel",), "latency_bucket": ("sel",),
                  "edges": ()}
POOL_SELECTORS = {"active": ("sel",), "max": ("sel",), "pending": ("sel",)}
LABEL_FIELDS = ("service_label", "namespace_label", "edge_source_label",
                "edge_destination_label")
UNITS = {"ms": 1.0, "s": 1000.0}
# the ConfigMap the connection-pool remedy resizes: placeholders and the required one
POOL_CONFIGMAP_PLACEHOLDERS = ("service", "namespace")
# Verification checks the playbooks wait on (lib function and action verification_query).
# The `_now` variants read the last two samples in the window (irate): the value now, not
# the window's average, which still holds a burst that has passed.
CHECKS = ("error_ratio", "p99_ms", "pool_pending", "dependents_error_ratio",
          "dependents_p99_ratio", "error_ratio_now", "p99_ms_now")

_PLACEHOLDER = re.compile(r"\$(?:(\w+)|\{(\w+)\}|(.?))")
_SELECTOR = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^{}]*\})?$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_DNS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


class PresetError(ValueError):
    """A metric source setting is invalid (the message names the key path)."""


def placeholders(template: str, path: str) -> List[str]:
    """The `$name` / `${name}` placeholders of a template; a stray `$` is an error."""
    found = []
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1) or match.group(2)
        if not name:
            raise PresetError("%s: stray '$' in %r (placeholders are $name)" % (path, template))
        found.append(name)
    return found


def substitute(template: str, values: Mapping[str, str]) -> str:
    """Replace each placeholder by its value (all must be known)."""
    def repl(match: Any) -> str:
        return values[match.group(1) or match.group(2)]
    return _PLACEHOLDER.sub(repl, template)


def check_template(template: str, required: Sequence[str], allowed: Sequence[str],
                   path: str) -> None:
    """Unknown or missing placeholders are errors naming `path`."""
    names = placeholders(template, path)
    unknown = sorted(set(names) - set(allowed))
    if unknown:
        raise PresetError("%s: unknown placeholder(s) %s in %r (allowed: %s)" % (
            path, ", ".join("$" + n for n in unknown), template,
            ", ".join("$" + n for n in allowed) or "none"))
    missing = [n for n in required if n not in names]
    if missing:
        raise PresetError("%s: missing placeholder(s) %s in %r" % (
            path, ", ".join("$" + n for n in missing), template))


def _check_selector(template: str, required: Sequence[str], path: str) -> None:
    check_template(template, required, required, path)
    sample = substitute(template, {"sel": 'x="y"'})
    if not _SELECTOR.match(sample):
        raise PresetError("%s: must be a series selector like metric_name{label=\"v\",$sel}, "
                          "got %r" % (path, template))


def resolve(section: Optional[Mapping[str, Any]]) -> Dict[str, Dict[str, str]]:
    """{"http": {...}, "pool": {...}, "pool_configmap": {...}} from a `metric_sources`
    config section (preset + overrides), validated; raises PresetError."""
    section = dict(section or {})
    http_name = section.get("http_preset") or DEFAULT_HTTP
    pool_name = section.get("pool_preset") or DEFAULT_POOL
    if http_name not in HTTP_PRESETS:
        raise PresetError("metric_sources.http_preset: must be one of %s, got %r" % (
            ", ".join(sorted(HTTP_PRESETS)), http_name))
    if pool_name not in POOL_PRESETS:
        raise PresetError("metric_sources.pool_preset: must be one of %s, got %r" % (
            ", ".join(sorted(POOL_PRESETS)), pool_name))
    http = dict(HTTP_PRESETS[http_name], preset=http_name)
    pool = dict(POOL_PRESETS[pool_name], preset=pool_name)
    for kind, target, fields in (("http", http, HTTP_SELECTORS), ("pool", pool, POOL_SELECTORS)):
        labels = LABEL_FIELDS if kind == "http" else LABEL_FIELDS[:2]
        allowed = set(fields) | set(labels) | ({"latency_unit"} if kind == "http" else set())
        overrides = section.get(kind) or {}
        if not isinstance(overrides, Mapping):
            raise PresetError("metric_sources.%s: must be an object, got %r" % (kind, overrides))
        for key, value in overrides.items():
            path = "metric_sources.%s.%s" % (kind, key)
            if key not in allowed:
                raise PresetError("%s: unknown key (allowed: %s)" % (
                    path, ", ".join(sorted(allowed))))
            if not isinstance(value, str):
                raise PresetError("%s: must be a string, got %r" % (path, value))
            target[key] = value.strip()
        for key, required in fields.items():
            path = "metric_sources.%s.%s" % (kind, key)
            if key == "edges" and not target[key]:
                continue  # no traffic edges from this source
            if not target[key]:
                raise PresetError("%s: must not be empty" % path)
            _check_selector(target[key], required, path)
        for key in labels:
            path = "metric_sources.%s.%s" % (kind, key)
            if key.startswith("edge_") and not target[key]:
                continue
            if not _LABEL.match(target[key]):
                raise PresetError("%s: not a Prometheus label name: %r" % (path, target[key]))
    if http["latency_unit"] not in UNITS:
        raise PresetError("metric_sources.http.latency_unit: must be one of %s, got %r" % (
            ", ".join(sorted(UNITS)), http["latency_unit"]))
    if http["edges"] and not (http["edge_source_label"] and http["edge_destination_label"]):
        raise PresetError("metric_sources.http.edges: needs edge_source_label and "
                          "edge_destination_label")
    remedy = dict(section.get("pool_configmap") or {})
    name = remedy.get("name", "$service-db-pool")
    key = remedy.get("key", "maximumPoolSize")
    check_template(name, ("service",), POOL_CONFIGMAP_PLACEHOLDERS,
                   "metric_sources.pool_configmap.name")
    sample = substitute(name, {"service": "svc", "namespace": "ns"})
    if len(sample) > 253 or not _DNS_NAME.match(sample):
        raise PresetError("metric_sources.pool_configmap.name: %r does not give a ConfigMap "
                          "name (lowercase letters, digits, '-', '.')" % name)
    if not re.match(r"^[-._a-zA-Z0-9]+$", key or ""):
        raise PresetError("metric_sources.pool_configmap.key: not a ConfigMap key: %r" % key)
    return {"http": http, "pool": pool, "pool_configmap": {"name": name, "key": key}}


_cache: Dict[Any, Dict[str, Dict[str, str]]] = {}


def sources(settings: Any) -> Dict[str, Dict[str, str]]:
    """The resolved metric sources of a Settings (or None: the defaults)."""
    section = None
    if settings is not None:
        try:
            section = settings["metric_sources"]
        except (KeyError, TypeError):
            section = None
    plain = _plain(section)
    key = repr(sorted(plain.items())) if plain else ""
    if key not in _cache:
        _cache[key] = resolve(plain)
    return _cache[key]


def _plain(value: Any) -> Dict[str, Any]:
    if value is None:
        return {}
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return {k: (_plain(v) if isinstance(v, Mapping) else v) for k, v in dict(value).items()}


# ------------------------------------------------------------------ rendering
def matchers(base: Optional[Mapping[str, str]] = None, **regexes: Iterable[str]) -> str:
    """A matcher list (no braces): exact matchers from `base`, regex matchers from `regexes`."""
    from lib import prom as prom_lib

    parts = ['%s="%s"' % (k, v) for k, v in (base or {}).items()]
    for label, values in regexes.items():
        parts.append('%s=~"%s"' % (label, prom_lib.label_regex(values)))
    return ",".join(parts)


def selector(template: str, sel: str = "") -> str:
    """A selector template with `$sel` filled; empty matcher slots are tidied away."""
    text = substitute(template, {"sel": sel})
    text = re.sub(r",\s*(?=[,}])", "", text)
    text = re.sub(r"\{\s*,\s*", "{", text)
    return text.replace("{}", "")


def freshness_query(template: str) -> str:
    """Age in seconds of the freshest sample of a series template (nothing when absent)."""
    return "time() - max(timestamp(%s))" % selector(template)


class Source(object):
    """One resolved metric source: its series templates and the labels that name a service."""

    def __init__(self, spec: Mapping[str, str]) -> None:
        self.spec = dict(spec)
        self.preset = self.spec.get("preset", "")
        self.service_label = self.spec["service_label"]
        self.namespace_label = self.spec["namespace_label"]
        self.labels = [self.namespace_label, self.service_label]

    def key(self, labels: Mapping[str, str]) -> Tuple[str, str]:
        """(namespace, service) of a result series."""
        return labels.get(self.namespace_label, ""), labels.get(self.service_label, "")

    def services(self, names: Iterable[str]) -> str:
        return matchers(**{self.service_label: names})

    def series(self, field: str, sel: str = "") -> str:
        return selector(self.spec[field], sel)

    def freshness(self, field: str) -> str:
        """Age in seconds of the freshest sample of a field's series (nothing when absent)."""
        return freshness_query(self.spec[field])


class Http(Source):
    """Rendering of the HTTP request metrics of one resolved source."""

    def __init__(self, spec: Mapping[str, str]) -> None:
        super(Http, self).__init__(spec)
        self.by = "%s, %s" % (self.service_label, self.namespace_label)
        self.scale = UNITS[self.spec["latency_unit"]]

    def target(self, namespace: str, service: str) -> str:
        return matchers({self.service_label: service, self.namespace_label: namespace})

    def rate(self, field: str, sel: str, window: str, offset: str = "", by: str = "",
             fn: str = "rate") -> str:
        """sum by(<by>) (rate(<field selector>[window] offset ...)); `fn` "irate": the rate
        between the last two samples in the window."""
        return "sum by(%s) (%s(%s[%s]%s))" % (
            by or self.by, fn, selector(self.spec[field], sel), window,
            (" offset " + offset) if offset else "")

    def p99_ms(self, sel: str, window: str, offset: str = "",
               by: Optional[str] = None, fn: str = "rate") -> str:
        """p99 in milliseconds over `window`, per `by` (None: per service; "": overall);
        `fn` "irate": over the last two samples in the window (the latency now)."""
        group = "le" if by == "" else "%s, le" % (self.by if by is None else by)
        query = "histogram_quantile(0.99, sum by(%s) (%s(%s[%s]%s)))" % (
            group, fn, selector(self.spec["latency_bucket"], sel), window,
            (" offset " + offset) if offset else "")
        return query if self.scale == 1.0 else "(%s * %g)" % (query, self.scale)

    def edges_query(self, window: str = "10m") -> str:
        """Observed caller -> callee request rates, or "" when the preset has no edges."""
        if not self.spec.get("edges"):
            return ""
        return "sum by (%s, %s) (rate(%s[%s])) > 0" % (
            self.spec["edge_source_label"], self.spec["edge_destination_label"],
            selector(self.spec["edges"]), window)

    def edge(self, labels: Mapping[str, str]) -> Tuple[str, str]:
        """(caller, callee) of an edges result; a host name's first DNS label is the callee."""
        src = labels.get(self.spec.get("edge_source_label", ""), "")
        dst = labels.get(self.spec.get("edge_destination_label", ""), "")
        return src, dst.split(".")[0].split(":")[0]


class Pool(Source):
    """Rendering of the connection-pool gauges of one resolved source."""

    def __init__(self, spec: Mapping[str, str]) -> None:
        super(Pool, self).__init__(spec)
        self.by = "%s, %s" % (self.namespace_label, self.service_label)

    def target(self, namespace: str, service: str) -> str:
        return matchers({self.namespace_label: namespace, self.service_label: service})

    def total(self, field: str, sel: str = "") -> str:
        return "sum by(%s) (%s)" % (self.by, self.series(field, sel))


def http(settings: Any) -> Http:
    return Http(sources(settings)["http"])


def pool(settings: Any) -> Pool:
    return Pool(sources(settings)["pool"])


def pool_configmap(settings: Any, namespace: str, service: str) -> Tuple[str, str]:
    """(ConfigMap name, key) the pool remedy resizes for a service."""
    spec = sources(settings)["pool_configmap"]
    return substitute(spec["name"], {"service": service, "namespace": namespace}), spec["key"]


def verification_query(settings: Any, check: str, namespace: str,
                       services: Sequence[str], window: str = "2m") -> str:
    """The PromQL a playbook waits on to verify recovery, from the configured source.

    error_ratio / p99_ms / pool_pending: of one service (services[0]); dependents_error_ratio /
    dependents_p99_ratio: the worst of several services (their 5xx ratio; their p99 over its
    baseline, the 30 minutes 45 minutes ago); error_ratio_now / p99_ms_now: one service's, from
    the last two samples in the window (irate: the window only has to span two scrapes).
    """
    if check not in CHECKS:
        raise PresetError("check: must be one of %s, got %r" % (", ".join(CHECKS), check))
    names = [s for s in services if s]
    if not names:
        raise PresetError("services: at least one service is needed")
    if check == "pool_pending":
        source = pool(settings)
        return "sum(%s)" % source.series("pending", source.target(namespace, names[0]))
    source = http(settings)
    fn = "irate" if check.endswith("_now") else "rate"
    if check in ("error_ratio", "error_ratio_now"):
        sel = source.target(namespace, names[0])
        return "sum(%s(%s[%s])) / sum(%s(%s[%s]))" % (
            fn, selector(source.spec["errors"], sel), window,
            fn, selector(source.spec["requests"], sel), window)
    if check in ("p99_ms", "p99_ms_now"):
        return source.p99_ms(source.target(namespace, names[0]), window, by="", fn=fn)
    sel = matchers({source.namespace_label: namespace}, **{source.service_label: names})
    by = source.service_label
    if check == "dependents_error_ratio":
        return "max(%s / %s)" % (source.rate("errors", sel, window, by=by),
                                 source.rate("requests", sel, window, by=by))
    return "max(%s / %s)" % (source.p99_ms(sel, window, by=by),
                             source.p99_ms(sel, "30m", "45m", by=by))


def other_presets(kind: str, current: str, field: str) -> Dict[str, str]:
    """{preset: freshness query of its `field`} for the presets of `kind` (http, pool) other
    than `current`: what a blind detector checks to tell "no such traffic" from "wrong stack"."""
    table = HTTP_PRESETS if kind == "http" else POOL_PRESETS
    return {name: freshness_query(spec[field])
            for name, spec in table.items() if name != current and spec.get(field)}

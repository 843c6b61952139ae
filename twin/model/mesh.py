"""HTTP request series as the mesh or ingress exports them: Istio, Linkerd, ingress-nginx,
OpenTelemetry (the scenario's `metrics.http` picks one).
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Tuple

from twin.model.signals import _BUCKET_LABELS, _SECONDS_LABELS, LATENCY_BUCKETS_MS, _phi, series_key
from twin.promwrite import SeriesKey


class MeshExporters:
    """HTTP request counters and latency histograms."""

    def _http(self, view: Dict[str, Dict[str, Any]], dt: float,
              samples: List[Tuple[SeriesKey, float]]) -> None:
        """Request counters and duration histograms per service, under the scenario's HTTP
        exporter's names (`metrics.http`): the same traffic, latency and errors whichever
        exporter; buckets in that exporter's unit."""
        counters = self.counters
        flavour = self.http_metrics
        for name, item in view.items():
            if item["rps"] <= 0 and (not item["pods"] or name not in self.services):
                continue  # no traffic and not a mesh service (e.g. node agents)
            ns = item["namespace"]
            count = item["rps"] * dt
            p50, p99 = max(0.1, item["p50"]), max(item["p99"], item["p50"] * 1.01, 0.2)
            sigma = max(0.05, math.log(p99 / p50) / 2.326)
            mean_ms = p50 * math.exp(sigma ** 2 / 2)
            fractions = [_phi((math.log(b) - math.log(p50)) / sigma) for b in LATENCY_BUCKETS_MS]
            sources = [("unknown", "unknown", item["ext_rps"])]  # callers outside the mesh
            for dep in item["dependents"]:
                if dep in view:
                    sources.append((dep, view[dep]["namespace"], view[dep]["rps"]))
            err = item["error_ratio"]
            upstream_err = item.get("upstream_err", 0.0)
            own_err = max(0.0, err - upstream_err)
            codes = (("200", 1 - err), ("500", own_err), ("503", max(0.0, err - own_err)))
            if flavour == "istio":
                self._istio_series(name, ns, dt, count, fractions, mean_ms, sources, codes)
            elif flavour == "linkerd":
                self._linkerd_series(name, ns, dt, count, fractions, mean_ms, sources, codes)
            elif flavour == "ingress-nginx":
                self._nginx_series(name, ns, dt, item["rps"], fractions, mean_ms, codes)
            else:
                self._otel_series(name, ns, dt, item["rps"], fractions, mean_ms, sources, codes)
        samples.extend(counters.items())

    def _add(self, name: str, labels: Dict[str, str], value: float,
             force: bool = False) -> None:
        """Add to a counter; a series is created once it counts (or when `force`)."""
        key = series_key(name, labels)
        if force or value > 0 or key in self.counters:
            self.counters[key] = self.counters.get(key, 0.0) + value

    def _histogram(self, name: str, base: Dict[str, str], count: float,
                   fractions: List[float], mean_ms: float, scale: float) -> None:
        """`<name>_bucket/_sum/_count` over the ms buckets, `le` and sum in ms / scale."""
        labels = _BUCKET_LABELS if scale == 1.0 else _SECONDS_LABELS
        for frac, label in zip(fractions, labels):
            self._add(name + "_bucket", dict(base, le=label), count * frac, True)
        self._add(name + "_bucket", dict(base, le="+Inf"), count, True)
        self._add(name + "_sum", base, count * mean_ms / scale, True)
        self._add(name + "_count", base, count, True)

    def _istio_series(self, name: str, ns: str, dt: float, count: float,
                      fractions: List[float], mean_ms: float,
                      sources: List[Tuple[str, str, float]],
                      codes: Tuple[Tuple[str, float], ...]) -> None:
        base = {"reporter": "destination", "destination_workload": name,
                "destination_workload_namespace": ns}
        self._histogram("istio_request_duration_milliseconds", base, count, fractions,
                        mean_ms, 1.0)
        for source, source_ns, rate in sources:
            for code, share in codes:
                self._add("istio_requests_total", {
                    "reporter": "destination", "source_workload": source,
                    "source_workload_namespace": source_ns,
                    "destination_workload": name, "destination_workload_namespace": ns,
                    "destination_service_name": name, "response_code": code},
                    rate * dt * share, share > 0)

    def _linkerd_series(self, name: str, ns: str, dt: float, count: float,
                        fractions: List[float], mean_ms: float,
                        sources: List[Tuple[str, str, float]],
                        codes: Tuple[Tuple[str, float], ...]) -> None:
        """linkerd-proxy: inbound series on the callee, outbound ones on each caller."""
        base = {"direction": "inbound", "deployment": name, "namespace": ns}
        self._histogram("response_latency_ms", base, count, fractions, mean_ms, 1.0)
        self._add("request_total", base, count, True)
        for code, share in codes:
            self._add("response_total", dict(base, status_code=code, classification=(
                "success" if code < "500" else "failure")), count * share, share > 0)
        for source, source_ns, rate in sources:
            if source == "unknown":
                continue  # not meshed: no outbound proxy
            for code, share in codes:
                self._add("response_total", {
                    "direction": "outbound", "deployment": source, "namespace": source_ns,
                    "dst_deployment": name, "dst_namespace": ns, "status_code": code,
                    "classification": "success" if code < "500" else "failure"},
                    rate * dt * share, share > 0)

    def _nginx_series(self, name: str, ns: str, dt: float, rps: float, fractions: List[float],
                      mean_ms: float, codes: Tuple[Tuple[str, float], ...]) -> None:
        """ingress-nginx socket metrics as scraped through a ServiceMonitor (the backend's
        service/namespace labels renamed exported_*), histogram in seconds."""
        base = {"exported_service": name, "exported_namespace": ns, "ingress": name,
                "controller_class": "k8s.io/ingress-nginx", "method": "GET"}
        for code, share in codes:
            labels = dict(base, status=code)
            self._add("nginx_ingress_controller_requests", labels, rps * dt * share, share > 0)
            self._histogram("nginx_ingress_controller_request_duration_seconds", labels,
                            rps * dt * share, fractions, mean_ms, 1000.0)

    def _otel_series(self, name: str, ns: str, dt: float, rps: float, fractions: List[float],
                     mean_ms: float, sources: List[Tuple[str, str, float]],
                     codes: Tuple[Tuple[str, float], ...]) -> None:
        """OpenTelemetry HTTP semconv (http.server.request.duration, seconds) exported to
        Prometheus with resource attributes as labels; callers' client histograms give edges."""
        base = {"service_name": name, "k8s_namespace_name": ns, "http_request_method": "GET"}
        for code, share in codes:
            self._histogram("http_server_request_duration_seconds",
                            dict(base, http_response_status_code=code), rps * dt * share,
                            fractions, mean_ms, 1000.0)
        for source, source_ns, rate in sources:
            if source == "unknown":
                continue
            for code, share in codes:
                self._add("http_client_request_duration_seconds_count", {
                    "service_name": source, "k8s_namespace_name": source_ns,
                    "server_address": f"{name}.{ns}.svc.cluster.local",
                    "http_request_method": "GET", "http_response_status_code": code},
                    rate * dt * share, share > 0)

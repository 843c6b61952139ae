"""The standard kubernetes-mixin / node-mixin alert rules, evaluated on the twin's Prometheus.

Expressions and `for:` durations are those of ../shared/reference/baseline-alerts.md (label
selectors such as `job=` left out, as there). An alert fires once its expression has returned a
result at every evaluation for its whole `for` duration, exactly as Prometheus' rule manager does.
"""
import math
from typing import Dict, List, Optional, Tuple

import requests

EVAL_INTERVAL_S = 15.0

# name -> (expression, for seconds)
BASELINE_RULES: Dict[str, Tuple[str, float]] = {
    "KubePodCrashLooping": (
        'max_over_time(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff"}[5m])'
        " >= 1", 15 * 60),
    "KubeNodeNotReady": (
        'kube_node_status_condition{condition="Ready",status="true"} == 0'
        " unless on (node) kube_node_spec_unschedulable == 1", 15 * 60),
    "KubeNodePressure": (
        'kube_node_status_condition{condition=~"(MemoryPressure|DiskPressure|PIDPressure)",'
        'status="true"} == 1 unless on (node) kube_node_spec_unschedulable == 1', 10 * 60),
    "CPUThrottlingHigh": (
        'sum without (id, metric_path, name, image, endpoint, job, node) ('
        'increase(container_cpu_cfs_throttled_periods_total{container!=""}[5m]))'
        " / sum without (id, metric_path, name, image, endpoint, job, node) ("
        "increase(container_cpu_cfs_periods_total[5m])) > (25 / 100)", 15 * 60),
    "KubeMemoryOvercommit": (
        'sum(kube_pod_container_resource_requests{resource="memory"}) - ('
        'sum(kube_node_status_allocatable{resource="memory"}) - '
        'max(kube_node_status_allocatable{resource="memory"})) > 0 and ('
        'sum(kube_node_status_allocatable{resource="memory"}) - '
        'max(kube_node_status_allocatable{resource="memory"})) > 0', 10 * 60),
    "KubeContainerWaiting": (
        'sum by (namespace, pod, container) ('
        'kube_pod_container_status_waiting_reason{reason!="CrashLoopBackOff"}) > 0', 60 * 60),
    "KubeDeploymentReplicasMismatch": (
        "(kube_deployment_spec_replicas > kube_deployment_status_replicas_available)"
        " and (changes(kube_deployment_status_replicas_updated[10m]) == 0)", 15 * 60),
    "CertManagerCertExpirySoon": (
        "avg by (name, namespace) (certmanager_certificate_expiration_timestamp_seconds - time())"
        " < (7 * 24 * 3600)", 5 * 60),
    "NodeFilesystemSpaceFillingUp": (
        'node_filesystem_avail_bytes{fstype!=""} / node_filesystem_size_bytes{fstype!=""} * 100'
        ' < 40 and predict_linear(node_filesystem_avail_bytes{fstype!=""}[6h], 24*60*60) < 0',
        60 * 60),
    "NodeFilesystemAlmostOutOfSpace": (
        'node_filesystem_avail_bytes{fstype!=""} / node_filesystem_size_bytes{fstype!=""} * 100'
        " < 5", 30 * 60),
    "NodeMemoryHighUtilization": (
        "100 - (node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes * 100) > 90",
        15 * 60),
}
# KubeClientCertificateExpiration watches the API server's client certificates; the twin's
# certificates are cert-manager's, whose mixin alert (CertManagerCertExpirySoon, 7 days in the
# critical form used here) stands in for it. Latency and error-rate anomalies have no alert in
# either mixin: the baseline cannot see them.


def _range_query(prom_url: str, expr: str, start: float, end: float,
                 step: float) -> List[dict]:
    resp = requests.get(prom_url.rstrip("/") + "/api/v1/query_range",
                        params={"query": expr, "start": start, "end": end, "step": step},
                        timeout=30)
    resp.raise_for_status()
    body = resp.json()
    if body.get("status") != "success":
        raise RuntimeError("query failed: %s" % body)
    return body["data"]["result"]


def first_firing(prom_url: str, expr: str, for_s: float, start: float, end: float,
                 step: float = EVAL_INTERVAL_S) -> Optional[float]:
    """The first evaluation time in [start, end] at which the alert would be firing."""
    series = _range_query(prom_url, expr, start, end, step)
    firing = []
    for s in series:
        times = sorted(float(ts) for ts, v in s.get("values", []) if not math.isnan(float(v)))
        pending_since = None
        prev = None
        for t in times:
            if prev is None or t - prev > step * 1.5:  # a gap resets the pending timer
                pending_since = t
            prev = t
            if t - pending_since >= for_s:
                firing.append(t)
                break
    return min(firing) if firing else None


def evaluate(prom_url: str, start: float, end: float,
             rules: Optional[Dict[str, Tuple[str, float]]] = None) -> Dict[str, Optional[float]]:
    """Map each baseline alert to its first firing time (epoch s) in [start, end], or None."""
    out: Dict[str, Optional[float]] = {}
    for name, (expr, for_s) in (rules or BASELINE_RULES).items():
        out[name] = first_firing(prom_url, expr, for_s, start, end)
    return out


def first_alert(prom_url: str, start: float, end: float) -> Tuple[Optional[str], Optional[float]]:
    """The baseline alert that fires first in [start, end] and when."""
    fired = {k: v for k, v in evaluate(prom_url, start, end).items() if v is not None}
    if not fired:
        return None, None
    name = min(fired, key=lambda k: fired[k])
    return name, fired[name]

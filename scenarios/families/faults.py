"""Fault families: one per detector, each with its ground truth derived from the drawn facts."""
from typing import Any, Dict

from scenarios.families.common import (Draw, background, background_calling, duration,
                                       mib, nodes, scenario, service)


def _truth(kind: str, detector: str, namespace: str, name: str, **extra: Any
           ) -> Dict[str, Any]:
    truth = {"kind": "fault", "expected_outcome": "remediate", "cause_service": name,
             "root_cause": {"detector": detector,
                            "target": {"kind": kind, "namespace": namespace, "name": name}}}
    truth.update(extra)
    return truth


def _pod_truth(detector: str, namespace: str, name: str, **extra: Any) -> Dict[str, Any]:
    return _truth("Pod", detector, namespace, name, **extra)


def _svc_truth(detector: str, namespace: str, name: str, **extra: Any) -> Dict[str, Any]:
    return _truth("Service", detector, namespace, name, **extra)


def memory_leak(draw: Draw) -> Dict[str, Any]:
    """A new version leaks linearly; its runway at the onset is 25-55 minutes."""
    ns = draw.pick(("production",)) if draw.chance(0.5) else draw.pick(
        ("production", "shop", "core"))
    name = draw.name()
    baseline = draw.uniform(200, 900)
    rate = draw.uniform(4, 30)                    # MiB/min
    since = draw.uniform(35, 90)                  # deploy minutes before the onset
    runway = draw.uniform(25, 55)                 # minutes to OOM at the onset
    limit = baseline + rate * (since + runway)
    svc = service(draw, name, ns, rps=draw.uniform(10, 60), replicas=draw.integer(2, 4),
                  memory_limit_mi=limit, baseline_mi=baseline)
    old, new = draw.upgrade(svc)
    svc["versions"][new] = {"memory": {"baseline": mib(baseline), "leak_per_min": mib(rate)},
                            "leak_log": "heap grows: retained buffers"}
    svc["deploys"].append({"version": new, "at": duration(-since * 60)})
    topo = {"nodes": nodes(draw, memory_gi=64), "services": background(draw, ns) + [svc]}
    sel = 'namespace="%s",container="%s"' % (ns, name)
    truth = _pod_truth("memory_leak", ns, name, acceptable_remediations=[
        "capture_logs", "check_recent_deploys", "rollback_deployment", "restart_pod",
        "restart_deployment"],
        recovery={"query": "max(deriv(container_memory_working_set_bytes{%s}[15m]))" % sel,
                  "comparator": "<", "threshold": 100000, "hold": "5m"},
        cause_change={"kind": "Deployment", "namespace": ns, "name": name,
                      "bad_version": new, "good_version": old})
    return scenario(draw, "memory_leak", "%s %s (deployed %.0f min before the onset) leaks "
                    "%.0f MiB/min; OOM in about %.0f min at the onset" % (
                        name, new, since, rate, runway), topo, truth,
                    history_min=int(since + 30), duration_min=45)


def node_memory_pressure(draw: Draw) -> Dict[str, Any]:
    """Low-priority batch pods pinned to one node load a large model: the node passes 90%.

    Drawn: whether the pods can be rescheduled. Their nodeSelector matches only the target node
    (a label put on that node alone, which a new node of the pool would not carry): evicting
    them leaves them Pending and an uncordon brings them back, so the honest outcome is an
    escalation with the node kept cordoned. Or, half the time, a person opened the other nodes
    to the batch class 30 minutes before the onset (the running pods stayed put): evicted, the
    pods start elsewhere, the node can be uncordoned, and the fix is autonomous."""
    ns = draw.pick(("production", "batch", "ml"))
    node_list = nodes(draw, memory_gi=draw.pick((16, 32)))
    target = node_list[0]
    target["labels"] = {"workload-class": "batch"}
    mem_gi = float(target["memory"][:-2])
    name = draw.name()
    baseline = draw.uniform(400, 900)
    per_pod = (0.96 * mem_gi * 1024 - 1.5 * 1024) / 2.0 - baseline
    batch = service(draw, name, ns, rps=0, replicas=2, memory_limit_mi=baseline + per_pod + 1024,
                    baseline_mi=baseline, node_selector={"workload-class": "batch"}, priority=0)
    topo = {"nodes": node_list, "services": background(draw, ns) + [batch]}
    ramp = draw.integer(60, 240)
    faults = [{"type": "memory_spike", "service": name, "node": target["name"], "at": "0s",
               "bytes": mib(per_pod), "ramp": "%ds" % ramp}]
    node = target["name"]
    movable = draw.chance(0.5)
    if movable:
        faults += [{"type": "label", "node": other["name"], "at": "-30m",
                    "labels": {"workload-class": "batch"}} for other in node_list[1:]]
    truth = {"kind": "fault", "expected_outcome": "remediate" if movable else "escalate",
             "cause_service": name, "reschedulable": movable,
             "root_cause": {"detector": "memory_pressure",
                            "target": {"kind": "Node", "namespace": "", "name": node}},
             "acceptable_remediations": ["cordon_node", "identify_top_memory_pods",
                                         "evict_pods", "scale_node_pool", "uncordon_node"],
             "recovery": {"query": '100 * (1 - node_memory_MemAvailable_bytes{node="%s"} / '
                          'node_memory_MemTotal_bytes{node="%s"})' % (node, node),
                          "comparator": "<", "threshold": 85, "hold": "3m"}}
    return scenario(draw, "node_memory_pressure", "two %s pods on %s grow by %s each; %s" % (
        name, node, mib(per_pod), "the other nodes were opened to the batch class 30 min "
        "before, so they can be rescheduled" if movable else "their nodeSelector matches "
        "only that node, so they cannot be rescheduled"), topo, truth, faults)


def cpu_throttling(draw: Draw) -> Dict[str, Any]:
    """A feature flag makes every request more CPU-hungry; pods hit their limit for good."""
    ns = draw.pick(("production", "shop", "core", "prod-eu"))
    name = draw.name()
    replicas = draw.integer(2, 4)
    load0 = draw.uniform(0.3, 0.45)
    base_cpu = 0.05
    rps = (load0 - base_cpu) * replicas / 0.002
    svc = service(draw, name, ns, rps=rps, replicas=replicas)
    svc["traffic"]["base_cpu"] = base_cpu
    factor = draw.uniform(1.05, 1.35) / load0
    topo = {"nodes": nodes(draw), "services": background(draw, ns) + [svc]}
    faults = [{"type": "cpu_demand", "service": name, "at": "0s", "factor": round(factor, 2),
               "ramp": "%ds" % draw.integer(30, 180)}]
    sel = 'container="%s",namespace="%s"' % (name, ns)
    truth = _pod_truth("cpu_throttling", ns, name, acceptable_remediations=[
        "scale_deployment", "create_fix_task", "configure_circuit_breaker", "notify_dependents"],
        recovery={"query": "max(rate(container_cpu_cfs_throttled_periods_total{%s}[5m]) / "
                  "rate(container_cpu_cfs_periods_total{%s}[5m]))" % (sel, sel),
                  "comparator": "<", "threshold": 0.2, "hold": "3m"})
    return scenario(draw, "cpu_throttling", "%s needs %.1fx CPU per request from the onset" % (
        name, factor), topo, truth, faults, duration_min=40)


def crash_loop(draw: Draw) -> Dict[str, Any]:
    """A bad deploy at the onset crashes at start-up."""
    ns = draw.pick(("production", "shop", "storefront"))
    name = draw.name()
    svc = service(draw, name, ns, rps=draw.uniform(10, 60), replicas=draw.integer(2, 4))
    _, new = draw.upgrade(svc)
    svc["versions"][new] = {"memory": {"baseline": "300Mi"}, "crash": {
        "after": "%ds" % draw.integer(3, 20), "exit_code": draw.pick((1, 2, 139)),
        "reason": "Error", "log": draw.pick(("panic: nil map", "missing env DB_URL",
                                              "segfault in codec"))}}
    services = background_calling(draw, ns, name)
    topo = {"nodes": nodes(draw), "services": services + [svc]}
    faults = [{"type": "deploy", "service": name, "version": new,
               "at": "%ds" % draw.integer(0, 60)}]
    truth = _pod_truth("crash_loop", ns, name, acceptable_remediations=[
        "capture_logs", "check_recent_deploys", "rollback_deployment", "scale_deployment",
        "restart_pod", "create_fix_task", "configure_circuit_breaker", "notify_dependents"],
        recovery={"query": 'sum(increase(kube_pod_container_status_restarts_total{'
                  'namespace="%s",container="%s"}[5m]))' % (ns, name),
                  "comparator": "<", "threshold": 1, "hold": "5m"})
    return scenario(draw, "crash_loop", "%s %s crashes at start-up" % (name, new), topo, truth,
                    faults, duration_min=35)


def error_rate(draw: Draw) -> Dict[str, Any]:
    """A deploy at the onset fails a share of requests; rolling back restores it."""
    ns = draw.pick(("production", "payments", "shop"))
    name = draw.name()
    svc = service(draw, name, ns, rps=draw.uniform(30, 120), replicas=draw.integer(2, 3))
    _, new = draw.upgrade(svc)
    ratio = draw.uniform(0.1, 0.4)
    svc["versions"][new] = {"memory": {"baseline": "300Mi"}, "error_ratio": round(ratio, 3)}
    services = background_calling(draw, ns, name)
    topo = {"nodes": nodes(draw), "services": services + [svc]}
    faults = [{"type": "deploy", "service": name, "version": new, "at": "0s"}]
    sel = 'destination_workload="%s"' % name
    truth = _svc_truth("error_rate", ns, name, acceptable_remediations=[
        "check_recent_deploys", "rollback_deployment", "notify_dependents",
        "configure_circuit_breaker"],
        recovery={"query": 'sum(rate(istio_requests_total{%s,response_code=~"5.."}[2m])) / '
                  "sum(rate(istio_requests_total{%s}[2m]))" % (sel, sel),
                  "comparator": "<", "threshold": 0.03, "hold": "3m"})
    return scenario(draw, "error_rate", "%s %s fails %.0f%% of requests" % (
        name, new, ratio * 100), topo, truth, faults)


def latency_anomaly(draw: Draw) -> Dict[str, Any]:
    """An external dependency slows a service; nothing in the cluster caused it: escalate."""
    ns = draw.pick(("production", "payments"))
    name = draw.name()
    svc = service(draw, name, ns, rps=draw.uniform(20, 80), p99_ms=draw.uniform(120, 300))
    services = background_calling(draw, ns, name)
    topo = {"nodes": nodes(draw), "services": services + [svc]}
    factor = draw.uniform(3, 8)
    faults = [{"type": "latency", "service": name, "at": "0s", "factor": round(factor, 1),
               "ramp": "%ds" % draw.integer(30, 150)}]
    truth = _svc_truth("latency_anomaly", ns, name, expected_outcome="escalate",
                       acceptable_remediations=["notify_dependents", "configure_circuit_breaker",
                                                "create_incident_report"])
    return scenario(draw, "latency_anomaly", "%s p99 x%.1f (external dependency)" % (
        name, factor), topo, truth, faults)


def disk_pressure(draw: Draw) -> Dict[str, Any]:
    """A service's pods spool to emptyDir on one node; the node's disk heads for full."""
    ns = draw.pick(("production", "logging", "core"))
    node_list = nodes(draw)
    target = node_list[draw.integer(0, len(node_list) - 1)]
    used = draw.integer(25, 50)
    target["disk_used"] = "%dGi" % used
    name = draw.name()
    svc = service(draw, name, ns, rps=0, replicas=1,
                  node_selector={"kubernetes.io/hostname": target["name"]})
    rate = draw.uniform(0.8, 2.5)
    topo = {"nodes": node_list, "services": background(draw, ns) + [svc]}
    faults = [{"type": "disk_fill", "service": name, "at": "0s",
               "rate_per_min": mib(rate * 1024)}]
    node = target["name"]
    truth = {"kind": "fault", "expected_outcome": "remediate", "cause_service": name,
             "root_cause": {"detector": "disk_pressure",
                            "target": {"kind": "Node", "namespace": "", "name": node}},
             "acceptable_remediations": ["evict_pods", "restart_pod", "drain_node",
                                         "cordon_node", "capture_logs", "uncordon_node"],
             "recovery": {"query": 'node_filesystem_avail_bytes{node="%s",mountpoint="/"} / '
                          'node_filesystem_size_bytes{node="%s",mountpoint="/"}' % (node, node),
                          "comparator": ">", "threshold": round(1 - (used + 15) / 100.0, 2),
                          "hold": "2m"}}
    return scenario(draw, "disk_pressure", "%s writes %.1f GiB/min to emptyDir on %s" % (
        name, rate, node), topo, truth, faults, duration_min=40)


def connection_pool(draw: Draw) -> Dict[str, Any]:
    """The database slows down; the service needs more connections than its pool holds."""
    ns = draw.pick(("production", "shop", "payments"))
    name = draw.name()
    replicas = 2
    pool = draw.integer(10, 30)
    query0 = draw.uniform(20, 50)
    rps = 0.6 * pool * replicas / (query0 / 1000.0)
    need = draw.uniform(1.15, 1.35)            # connections needed / pool after the onset
    query1 = need * pool * replicas / rps * 1000.0
    svc = service(draw, name, ns, rps=rps, replicas=replicas,
                  db_pool={"max": pool, "query_ms": round(query0, 1)})
    svc["traffic"]["cpu_per_rps"] = 0.0005
    services = background_calling(draw, ns, name)
    # The entry's calls add to the service's own requests (twin: a service serves its own rps
    # plus its callers'): the query times are set on the total, so that the connections
    # needed are 0.6 x the pool before the onset and `need` x the pool after it, as drawn.
    total = rps + float(services[0]["traffic"]["rps"])
    query0 = 0.6 * pool * replicas / total * 1000.0
    query1 = need * pool * replicas / total * 1000.0
    svc["db_pool"]["query_ms"] = round(query0, 1)
    topo = {"nodes": nodes(draw), "services": services + [svc]}
    faults = [{"type": "db_slow", "service": name, "at": "0s", "query_ms": round(query1, 1),
               "ramp": "%ds" % draw.integer(30, 120)}]
    truth = _svc_truth("connection_pool", ns, name, acceptable_remediations=[
        "restart_idle_connections", "increase_pool_size_temporarily", "create_fix_task",
        "configure_circuit_breaker", "notify_dependents"],
        recovery={"query": 'max(hikaricp_connections_pending{namespace="%s",service="%s"})' % (
            ns, name), "comparator": "<", "threshold": 1, "hold": "3m"})
    return scenario(draw, "connection_pool", "%s queries %.0f -> %.0f ms, pool %d" % (
        name, query0, query1, pool), topo, truth, faults)


def certificate_expiry(draw: Draw) -> Dict[str, Any]:
    """A certificate's renewal is stuck; it crosses the warning horizon: a human renews."""
    ns = draw.pick(("production", "ingress", "core"))
    cert = draw.pick(("api", "www", "edge", "payments", "auth")) + "-tls"
    left_days = draw.uniform(3, 14)
    topo = {"nodes": nodes(draw), "services": background(draw, ns),
            "certificates": [{"name": cert, "namespace": ns, "issuer": "letsencrypt-prod",
                              "expires_in": "%dm" % int(left_days * 1440)}]}
    truth = {"kind": "fault", "expected_outcome": "escalate",
             "root_cause": {"detector": "certificate_expiry", "target": {
                 "kind": "Certificate", "namespace": ns, "name": cert}},
             "acceptable_remediations": []}
    return scenario(draw, "certificate_expiry", "%s/%s has %.1f days left" % (
        ns, cert, left_days), topo, truth, duration_min=15)


def node_not_ready(draw: Draw) -> Dict[str, Any]:
    """A kubelet stops reporting; its pods must be rescheduled."""
    ns = draw.pick(("production", "shop", "core"))
    node_list = nodes(draw, count=draw.integer(3, 4))
    services = background(draw, ns)
    entry = services[0]
    entry["replicas"] = len(node_list)
    target = node_list[draw.integer(0, len(node_list) - 1)]["name"]
    topo = {"nodes": node_list, "services": services}
    faults = [{"type": "node_not_ready", "node": target, "at": "0s"}]
    truth = {"kind": "fault", "expected_outcome": "remediate",
             "root_cause": {"detector": "node_not_ready",
                            "target": {"kind": "Node", "namespace": "", "name": target}},
             "acceptable_remediations": ["cordon_node", "drain_node", "evict_pods",
                                         "scale_node_pool", "scale_deployment"],
             "recovery": {"query": 'sum(kube_deployment_status_replicas_available{'
                          'namespace="%s",deployment="%s"})' % (ns, entry["name"]),
                          "comparator": ">=", "threshold": entry["replicas"], "hold": "3m"}}
    return scenario(draw, "node_not_ready", "kubelet of %s stops reporting" % target, topo,
                    truth, faults)


FAMILIES = {f.__name__: f for f in (memory_leak, node_memory_pressure, cpu_throttling,
                                    crash_loop, error_rate, latency_anomaly, disk_pressure,
                                    connection_pool, certificate_expiry, node_not_ready)}

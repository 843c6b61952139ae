"""What diagnosis reads from the cluster: deploy history, pod memory on a node, the graph.

`ClusterFacts` is the real source (Kubernetes API + Prometheus); tests inject an object with the
same methods (the node ones, `nodes_of_service`, `node_health`, `node_memory_peak_pct` and
`oom_kills_on_node`, are optional).
"""
import logging
from typing import Any, Dict, List, Optional, Tuple

from lib import dependency_graph

LOG = logging.getLogger(__name__)

RECENT_PODS_S = 1800


class ClusterFacts(object):
    """Facts from the official Kubernetes client (`lib.kube.Kube`) and `lib.prom.Prom`."""

    def __init__(self, settings: Any, kube: Any = None, prom: Any = None) -> None:
        self.settings = settings
        self.kube = kube
        self.prom = prom
        self._graph = None  # type: Any

    def deploy_history(self, namespace: str, deployment: str) -> List[Dict[str, Any]]:
        """Revisions newest first: `{revision, created_epoch, version}` ([] when unknown)."""
        if self.kube is None or not namespace or not deployment:
            return []
        from lib import k8s_workloads
        from lib.kube import KubeError

        try:
            info = k8s_workloads.history(self.kube, namespace, deployment)
        except KubeError as exc:
            if exc.status != 404:
                LOG.warning("deploy history of %s/%s unavailable: %s", namespace, deployment, exc)
            return []
        return [{"revision": r["revision"], "created_epoch": r["created_epoch"],
                 "version": r["version"], "current": r["revision"] == info["current_revision"]}
                for r in info["revisions"]]

    def pods_on_node(self, node: str) -> List[Dict[str, Any]]:
        """Pods on a node with working-set memory and limit (bytes), biggest first."""
        if self.prom is None:
            return []
        usage = self._by_pod('sum by (namespace, pod) (container_memory_working_set_bytes'
                             '{node="%s", container!="", container!="POD"})' % node)
        limits = self._by_pod('sum by (namespace, pod) (kube_pod_container_resource_limits'
                              '{node="%s", resource="memory"})' % node)
        services = self._services_on_node(node)
        pods = []
        for (namespace, pod), used in usage.items():
            pods.append({"namespace": namespace, "pod": pod, "memory_bytes": used,
                         "limit_bytes": limits.get((namespace, pod)),
                         "service": services.get((namespace, pod)) or guess_service(pod)})
        pods.sort(key=lambda p: p["memory_bytes"], reverse=True)
        return pods

    def node_memory_total(self, node: str) -> Optional[float]:
        if self.prom is None:
            return None
        samples = self.prom.query('max(node_memory_MemTotal_bytes{node="%s"})' % node)
        return samples[0].value if samples else None

    def node_memory_peak_pct(self, node: str, lookback_s: float) -> Optional[float]:
        """Highest memory utilisation (%, the memory_pressure detector's formula) of the node
        over the lookback (an OOM kill frees memory at once, so the peak tells, not now)."""
        if self.prom is None:
            return None
        from lib.detectors.memory_pressure import UTIL

        samples = self.prom.query('max(max_over_time((%s)[%ds:15s]))' % (
            UTIL % {"sel": 'node="%s"' % node}, int(lookback_s)))
        return samples[0].value if samples else None

    def oom_kills_on_node(self, node: str, lookback_s: float) -> List[Dict[str, Any]]:
        """Pods on the node with a container whose last termination was OOMKilled and that
        restarted within the lookback: `{namespace, pod, service, restarts, peak_bytes (highest
        working set over the lookback), limit_bytes}` (None when unknown)."""
        if self.prom is None:
            return []
        on_node = 'on (namespace, pod) group_left () max by (namespace, pod) ' \
                  '(kube_pod_info{node="%s"})' % node
        window = int(lookback_s)
        oom = self._by_pod('max by (namespace, pod) (kube_pod_container_status_last_terminated'
                           '_reason{reason="OOMKilled"}) * %s' % on_node)
        if not oom:
            return []
        restarts = self._by_pod(
            'max by (namespace, pod) (max_over_time(kube_pod_container_status_restarts_total'
            '[%ds]) - min_over_time(kube_pod_container_status_restarts_total[%ds])) * %s'
            % (window, window, on_node))
        peaks = self._by_pod('max by (namespace, pod) (max_over_time('
                             'container_memory_working_set_bytes{node="%s", container!="", '
                             'container!="POD"}[%ds]))' % (node, window))
        limits = self._by_pod('max by (namespace, pod) (kube_pod_container_resource_limits'
                              '{node="%s", resource="memory"})' % node)
        services = self._services_on_node(node)
        return [{"namespace": namespace, "pod": pod,
                 "service": services.get((namespace, pod)) or guess_service(pod),
                 "restarts": int(restarts.get((namespace, pod)) or 0),
                 "peak_bytes": peaks.get((namespace, pod)),
                 "limit_bytes": limits.get((namespace, pod))}
                for (namespace, pod) in sorted(oom)
                if (restarts.get((namespace, pod)) or 0) >= 1]

    def memory_series(self, namespace: str, pod: str,
                      lookback_s: float) -> List[Tuple[float, float]]:
        """Working-set bytes of one pod over the lookback, oldest first."""
        if self.prom is None:
            return []
        query = ('sum(container_memory_working_set_bytes{namespace="%s", pod="%s", '
                 'container!="", container!="POD"})' % (namespace, pod))
        step = float(max(15, int(lookback_s / 120.0)))
        series = self.prom.query_range(query, lookback_s, step)
        return list(series[0].points) if series else []

    def services_on_node(self, node: str) -> List[str]:
        """Services with pods on the node now (API server) or in the last RECENT_PODS_S
        (kube_pod_info): a NotReady node's pods are often already evicted."""
        found = {s for s in self._services_on_node(node).values() if s}
        if self.prom is not None:
            try:
                samples = self.prom.query(
                    'max by (namespace, pod, created_by_kind, created_by_name) '
                    '(max_over_time(kube_pod_info{node="%s"}[%ds]))' % (node, RECENT_PODS_S))
            except Exception as exc:
                LOG.warning("recent pods of %s unavailable: %s", node, exc)
                samples = []
            for sample in samples:
                owner = sample.labels.get("created_by_name") or ""
                if sample.labels.get("created_by_kind") == "ReplicaSet" and "-" in owner:
                    found.add(owner.rsplit("-", 1)[0])
                elif owner:
                    found.add(owner)
                else:
                    found.add(guess_service(sample.labels.get("pod", "")))
        return sorted(found)

    def nodes_of_service(self, namespace: str, service: str) -> List[str]:
        """Nodes that run (API server: pods' spec.nodeName) or ran in the last RECENT_PODS_S
        (kube_pod_info{node}) pods of the service."""
        found = set()
        if self.kube is not None and service:
            try:
                pods = self.kube.call(self.kube.core.list_namespaced_pod, namespace,
                                      label_selector="app=%s" % service).items or []
                found.update(p.spec.node_name for p in pods if p.spec and p.spec.node_name)
            except Exception as exc:
                LOG.warning("pods of %s/%s unavailable: %s", namespace, service, exc)
        if self.prom is not None and service:
            try:
                samples = self.prom.query(
                    'max by (node, pod) (max_over_time(kube_pod_info{namespace="%s", '
                    'created_by_name=~"%s-[a-z0-9]+"}[%ds]))' % (namespace, service,
                                                                RECENT_PODS_S))
            except Exception as exc:
                LOG.warning("recent pods of %s/%s unavailable: %s", namespace, service, exc)
                samples = []
            found.update(s.labels.get("node") for s in samples if s.labels.get("node"))
        return sorted(found)

    def node_health(self) -> List[Dict[str, Any]]:
        """Every node: `{name, ready (True|False|Unknown), since (epoch of the Ready
        condition's lastTransitionTime)}`; [] when the API is unavailable."""
        if self.kube is None:
            return []
        from lib import clock

        nodes = self.kube.call(self.kube.core.list_node).items or []
        result = []
        for node in nodes:
            ready, since = "Unknown", None  # type: str, Optional[float]
            for cond in (node.status.conditions if node.status else None) or []:
                if cond.type == "Ready":
                    ready = str(cond.status)
                    stamp = cond.last_transition_time
                    if stamp is not None:
                        since = stamp.timestamp() if hasattr(stamp, "timestamp") else \
                            clock.parse_iso(str(stamp))
            result.append({"name": node.metadata.name, "ready": ready, "since": since})
        return result

    def graph(self) -> Any:
        if self._graph is None:
            query = self.prom.query if self.prom is not None else None
            self._graph = dependency_graph.load(self.settings, self.kube,
                                                _as_dicts(query) if query else None)
        return self._graph

    def _by_pod(self, promql: str) -> Dict[Tuple[str, str], float]:
        return {(s.labels.get("namespace", ""), s.labels.get("pod", "")): s.value
                for s in self.prom.query(promql)}

    def _services_on_node(self, node: str) -> Dict[Tuple[str, str], str]:
        if self.kube is None:
            return {}
        try:
            pods = self.kube.call(self.kube.core.list_pod_for_all_namespaces,
                                  field_selector="spec.nodeName=%s" % node).items or []
        except Exception as exc:
            LOG.warning("pods on %s unavailable: %s", node, exc)
            return {}
        result = {}
        for pod in pods:
            labels = pod.metadata.labels or {}
            service = labels.get("app") or labels.get("app.kubernetes.io/name") or ""
            if not service:
                for ref in pod.metadata.owner_references or []:
                    if ref.kind == "ReplicaSet":
                        service = ref.name.rsplit("-", 1)[0]
            result[(pod.metadata.namespace, pod.metadata.name)] = service
        return result


def guess_service(pod: str) -> str:
    """`analytics-worker-7f8d9c5b6-x2x4z` -> `analytics-worker` (last resort naming guess)."""
    parts = pod.split("-")
    hashy = len(parts) > 2 and 6 <= len(parts[-2]) <= 10 and \
        any(c.isdigit() for c in parts[-2])
    if hashy and len(parts[-1]) == 5:
        return "-".join(parts[:-2])
    return "-".join(parts[:-1]) if len(parts) > 1 else pod


def _as_dicts(query: Any) -> Any:
    """Adapt `Prom.query` (Sample objects) to the `{"metric": labels}` shape."""
    def run(promql: str) -> List[Dict[str, Any]]:
        return [{"metric": s.labels, "value": [s.ts, s.value]} for s in query(promql)]
    return run

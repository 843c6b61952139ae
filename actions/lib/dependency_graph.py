"""Service dependency graph: config, Deployment annotations and observed request edges
(from the configured HTTP metric source, lib.metric_presets: Istio's by default).

An edge `A -> B` means service A calls B (B is an upstream of A); a degraded B explains
latency or errors in A.
"""
import logging
from typing import Any, Dict, Iterable, List, Mapping, Optional, Set, Tuple

from lib import metric_presets

LOG = logging.getLogger(__name__)

DEPENDS_ON = "self-healing.io/depends-on"
# the default (Istio) edges query; the configured one comes from metric_presets
TRAFFIC_QUERY = metric_presets.http(None).edges_query()


class DependencyGraph(object):
    """Directed graph service -> upstream services, with where each edge came from."""

    def __init__(self) -> None:
        self._up = {}  # type: Dict[str, Set[str]]
        self.sources = {}  # type: Dict[Tuple[str, str], Set[str]]

    def add(self, service: str, upstream: str, source: str) -> None:
        service, upstream = service.strip(), upstream.strip()
        if not service or not upstream or service == upstream:
            return
        self._up.setdefault(service, set()).add(upstream)
        self.sources.setdefault((service, upstream), set()).add(source)

    def upstreams(self, service: str) -> List[str]:
        return sorted(self._up.get(service, ()))

    def dependents(self, service: str) -> List[str]:
        return sorted(s for s, ups in self._up.items() if service in ups)

    def upstream_closure(self, service: str) -> Set[str]:
        """Every service `service` depends on, directly or transitively."""
        return self._walk(service, self.upstreams)

    def downstream_closure(self, service: str) -> Set[str]:
        """Every service that depends on `service`, directly or transitively."""
        return self._walk(service, self.dependents)

    def connected(self, a: str, b: str) -> bool:
        return b in self.upstream_closure(a) or b in self.downstream_closure(a)

    def path(self, downstream: str, upstream: str) -> List[str]:
        """Shortest call path downstream -> ... -> upstream, or []."""
        frontier = [[downstream]]
        seen = {downstream}
        while frontier:
            route = frontier.pop(0)
            if route[-1] == upstream:
                return route
            for nxt in self.upstreams(route[-1]):
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(route + [nxt])
        return []

    def edges(self) -> List[Tuple[str, str]]:
        return sorted((s, u) for s, ups in self._up.items() for u in ups)

    def _walk(self, start: str, step: Any) -> Set[str]:
        seen = set()  # type: Set[str]
        stack = [start]
        while stack:
            for nxt in step(stack.pop()):
                if nxt not in seen and nxt != start:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen


def build(config_dependencies: Optional[Mapping[str, Iterable[str]]] = None,
          annotations: Optional[Mapping[str, str]] = None,
          traffic: Optional[Iterable[Tuple[str, str]]] = None) -> DependencyGraph:
    """Merge the three sources: config map, `depends-on` annotations, observed traffic."""
    graph = DependencyGraph()
    for service, ups in (config_dependencies or {}).items():
        for upstream in ups or ():
            graph.add(service, upstream, "config")
    for service, value in (annotations or {}).items():
        for upstream in (value or "").split(","):
            graph.add(service, upstream, "annotation")
    for source, destination in traffic or ():
        graph.add(source, destination, "traffic")
    return graph


def annotation_map(kube: Any) -> Dict[str, str]:
    """`{deployment name: depends-on annotation}` over every namespace."""
    result = {}  # type: Dict[str, str]
    deployments = kube.call(kube.apps.list_deployment_for_all_namespaces).items
    for dep in deployments:
        value = (dep.metadata.annotations or {}).get(DEPENDS_ON)
        if value:
            result[dep.metadata.name] = value
    return result


def traffic_edges(query: Any, settings: Any = None) -> List[Tuple[str, str]]:
    """Edges caller -> callee seen in the configured HTTP source's request metrics (empty
    when that source has no caller information, or no traffic).

    `query(promql)` returns Prometheus vector results (`[{"metric": {...}, "value": [t, v]}]`).
    """
    source = metric_presets.http(settings)
    promql = source.edges_query()
    if not promql:
        return []
    edges = []
    for sample in query(promql) or []:
        src, dst = source.edge(sample.get("metric", {}))
        if src and dst and src != "unknown":
            edges.append((src, dst))
    return sorted(set(edges))


def load(settings: Any, kube: Any = None, query: Any = None) -> DependencyGraph:
    """The graph from every source available; a failing source is logged and skipped."""
    annotations = {}  # type: Dict[str, str]
    traffic = []  # type: List[Tuple[str, str]]
    if kube is not None:
        try:
            annotations = annotation_map(kube)
        except Exception as exc:
            LOG.warning("dependency annotations unavailable: %s", exc)
    if query is not None:
        try:
            traffic = traffic_edges(query, settings)
        except Exception as exc:
            LOG.warning("traffic edges unavailable: %s", exc)
    deps = settings["dependencies"] if settings is not None else {}
    return build(deps, annotations, traffic)

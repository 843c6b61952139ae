"""A small facts source for diagnosis tests, and signal builders."""
from typing import Any, Dict, List, Optional, Tuple

from lib import clock, dependency_graph

GB = 1024.0 ** 3


class FakeFacts(object):
    """The five methods of lib.diagnosis_facts.ClusterFacts, from plain data."""

    def __init__(self, deploys: Optional[Dict[Tuple[str, str], List[Dict]]] = None,
                 pods: Optional[Dict[str, List[Dict]]] = None,
                 node_totals: Optional[Dict[str, float]] = None,
                 series: Optional[Dict[Tuple[str, str], List[Tuple[float, float]]]] = None,
                 dependencies: Optional[Dict[str, List[str]]] = None,
                 annotations: Optional[Dict[str, str]] = None,
                 traffic: Optional[List[Tuple[str, str]]] = None,
                 placement: Optional[Dict[str, List[str]]] = None) -> None:
        self.deploys = deploys or {}
        self.pods = pods or {}
        self.node_totals = node_totals or {}
        self.series = series or {}
        self._graph = dependency_graph.build(dependencies, annotations, traffic)
        self.series_calls = []  # type: List[Tuple[str, str, float]]
        self.placement = placement or {}

    def deploy_history(self, namespace: str, deployment: str) -> List[Dict[str, Any]]:
        return list(self.deploys.get((namespace, deployment), []))

    def pods_on_node(self, node: str) -> List[Dict[str, Any]]:
        return sorted(self.pods.get(node, []), key=lambda p: p["memory_bytes"], reverse=True)

    def node_memory_total(self, node: str) -> Optional[float]:
        return self.node_totals.get(node)

    def memory_series(self, namespace: str, pod: str, lookback_s: float) -> List:
        self.series_calls.append((namespace, pod, lookback_s))
        start = clock.now() - lookback_s
        return [p for p in self.series.get((namespace, pod), []) if p[0] >= start]

    def services_on_node(self, node: str) -> List[str]:
        return sorted(self.placement.get(node, []))

    def graph(self) -> Any:
        return self._graph


def revisions(*items: Tuple[int, float, str]) -> List[Dict[str, Any]]:
    """(revision, created_epoch, version) newest first; the first one is current."""
    rows = sorted(items, key=lambda r: r[0], reverse=True)
    return [{"revision": r, "created_epoch": at, "version": v, "current": i == 0}
            for i, (r, at, v) in enumerate(rows)]


def signal(detector: str, kind: str, name: str, first: float, namespace: str = "",
           service: str = "", node: str = "", severity: str = "high",
           detected: Optional[float] = None, summary: str = "",
           metadata: Optional[Dict] = None) -> Dict[str, Any]:
    detected = first if detected is None else detected
    return {"signal_id": "%s.%s.%s.%s.%d" % (detector, kind.lower(), namespace or "_", name,
                                             int(first)),
            "detector": detector,
            "target": {"kind": kind, "namespace": namespace, "name": name, "node": node},
            "service": service, "severity": severity,
            "first_detected": clock.isoformat(first), "detected_at": clock.isoformat(detected),
            "summary": summary or "%s on %s" % (detector, name),
            "evidence": {"query": "", "values": {}}, "metadata": metadata or {}}


def linear(start: float, end: float, v0: float, v1: float, step: float = 60.0) -> List:
    points = []
    t = start
    while t <= end:
        points.append((t, v0 + (v1 - v0) * (t - start) / (end - start)))
        t += step
    return points

"""Diagnosis rules 1-2: which open incident a signal joins (or refines), and which recent
signals belong with it."""
from typing import Any, Dict, List, Optional, Tuple

from lib import clock
from lib.diagnosis_base import (CAUSE_RANK, CORRELATION_WINDOW_S, FAMILY, NODE_LOSS_SYMPTOMS,
                                SYMPTOMS, Sig)


def same_family(a: str, b: str) -> bool:
    fa, fb = FAMILY.get(a), FAMILY.get(b)
    return fa == "any" or fb == "any" or (fa is not None and fa == fb)


def disrupted_services(incident: Dict[str, Any]) -> set:
    """Services whose pods this incident's own actions evicted or restarted."""
    out = set()
    for action in incident.get("actions") or []:
        result = action.get("result") if isinstance(action, dict) else None
        if not isinstance(result, dict) or action.get("dry_run"):
            continue
        pods = list(result.get("evicted") or [])
        if result.get("pod"):
            pods.append(str(result.get("pod")))
        for ref in pods:
            name = str(ref).split("/", 1)[-1]
            parts = name.split("-")
            out.add("-".join(parts[:-2]) if len(parts) > 2 else name)
    return out


class Correlation(object):
    """The joining and correlating part of the Diagnoser (uses self.facts, self.graph)."""

    def find_incident(self, sig: Sig, incidents: List[Dict[str, Any]]
                      ) -> Optional[Tuple[Dict[str, Any], str]]:
        for incident in sorted(incidents, key=lambda i: i.get("created_at") or "",
                               reverse=True):
            if sig.id and sig.id in (incident.get("signals") or []):
                return incident, "the signal is already part of it"
            if sig.key in (incident.get("targets") or []):
                return incident, "same target %s" % sig.key
            root_detector = (incident.get("root_cause") or {}).get("detector") or ""
            if sig.node and sig.node in (incident.get("nodes") or []) and \
                    same_family(sig.detector, root_detector):
                return incident, "same node %s" % sig.node
            on_node = self.services_on(sig) & set(incident.get("affected_services") or [])
            if on_node and root_detector in NODE_LOSS_SYMPTOMS:
                return incident, "%s runs on node %s (%s)" % (
                    ", ".join(sorted(on_node)), sig.node, sig.summary)
            affected = incident.get("affected_services") or []
            if sig.service and sig.service in affected:
                return incident, "service %s is already affected" % sig.service
            if sig.service and sig.service in disrupted_services(incident):
                return incident, ("the incident's own remediation moved pods of %s (a "
                                  "consequence, not a new cause)" % sig.service)
            root_service = (incident.get("root_cause") or {}).get("service") or ""
            if sig.service and root_service and \
                    root_service in self.graph.upstream_closure(sig.service):
                route = " -> ".join(self.graph.path(sig.service, root_service))
                return incident, "%s is downstream of the root service %s (%s)" % (
                    sig.service, root_service, route)
            if sig.service and root_service and root_detector in SYMPTOMS and \
                    sig.service in self.graph.upstream_closure(root_service):
                route = " -> ".join(self.graph.path(root_service, sig.service))
                return incident, "%s is upstream of %s (%s)" % (sig.service, root_service, route)
        return None

    def refines(self, sig: Sig, root: Dict[str, Any]) -> bool:
        """A joining signal replaces a symptom root (latency/errors) when it explains it: a
        cause-type signal of the same incident, or a degraded upstream of the root service; a
        NotReady node also explains CPU throttling of its services (their load moved)."""
        detector = root.get("detector") or ""
        if sig.detector == "node_not_ready" and detector in NODE_LOSS_SYMPTOMS and \
                (root.get("service") or "") in self.services_on(sig):
            return True
        if detector not in SYMPTOMS:
            return False
        if sig.detector not in SYMPTOMS and \
                CAUSE_RANK.get(sig.detector, 99) < CAUSE_RANK.get(detector, 99):
            return True
        service = root.get("service") or ""
        return bool(sig.service and service and
                    sig.service in self.graph.upstream_closure(service))

    def related(self, a: Sig, b: Sig) -> bool:
        if a.service and a.service == b.service:
            return True
        if a.node and a.node == b.node and same_family(a.detector, b.detector):
            return True
        if b.service and b.service in self.services_on(a) or \
                a.service and a.service in self.services_on(b):
            return True
        return bool(a.service and b.service and self.graph.connected(a.service, b.service))

    def services_on(self, sig: Sig) -> set:
        """Services with pods on the node of a node-level NotReady signal (else empty)."""
        if sig.target["kind"] != "Node" or sig.detector != "node_not_ready":
            return set()
        if sig.node not in self._on_node:
            lookup = getattr(self.facts, "services_on_node", None)
            try:
                self._on_node[sig.node] = set(lookup(sig.node)) if lookup else set()
            except Exception:
                self._on_node[sig.node] = set()
        return self._on_node[sig.node]

    def correlate(self, trigger: Sig, pool: List[Sig]) -> List[Sig]:
        earliest = trigger.first - CORRELATION_WINDOW_S
        candidates = {}  # type: Dict[Tuple[str, str], Sig]
        for sig in pool:
            if sig.id == trigger.id or sig.first < earliest or sig.first > clock.now() + 60:
                continue
            ident = (sig.detector, sig.key)
            if ident == (trigger.detector, trigger.key):
                trigger.first = min(trigger.first, sig.first)
                continue
            if ident not in candidates or sig.first < candidates[ident].first:
                candidates[ident] = sig
        cluster = [trigger]
        rest = list(candidates.values())
        grown = True
        while grown:
            grown = False
            for sig in list(rest):
                if any(self.related(sig, member) for member in cluster):
                    cluster.append(sig)
                    rest.remove(sig)
                    grown = True
        return sorted(cluster, key=lambda s: (s.first, s.id))

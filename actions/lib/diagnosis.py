"""Diagnosis: from a triggering signal to one incident per cause, with a plain-words reasoning.

Rules, in order:
 1. join     a symptom of an open incident (same signal, target, node or service, or a service
             downstream of the incident's root service) joins it: no second remediation; a
             newcomer that explains the incident's symptom root (a cause on the same service,
             a degraded upstream, a NotReady node under its services) refines the root instead:
             same incident, `refined: true`, `joined: false`, the cause's playbook to run;
 2. correlate recent signals related to the trigger (same service, same node, or connected in
             the dependency graph; transitively) within CORRELATION_WINDOW_S;
 3. attribute node memory pressure to its top memory consumer (a memory_leak signal of that pod,
             or a synthesized "memory leak in <service> <version>" when its memory grew linearly);
 4. node     NotReady nodes under the degraded services' pods explain their symptoms (and those
             of services downstream); without a node signal yet (the detector waits out its
             grace), a node whose Ready condition turned by the symptom's onset under the
             root service's pods is synthesized as the cause; several NotReady nodes at once
             are one storm, one incident;
 5. direction among services with signals, the most upstream one explains the others
             (A <- B <- C: errors in C and latency in B are explained by A);
 6. change   a deploy of the root's service within CHANGE_WINDOW_S before onset is evidence
             (and breaks ties between candidate roots);
 7. earliest otherwise the earliest `first_detected` wins (the seed's starting point).
"""
import logging
import math
from typing import Any, Dict, List, Optional, Tuple

from lib import catalogue, clock, signals
from lib.catalogue import target_key

LOG = logging.getLogger(__name__)

CORRELATION_WINDOW_S = 1800
CHANGE_WINDOW_S = 3600
ATTRIBUTION_MIN_SHARE = 0.3
LINEAR_MIN_R2 = 0.9
GROWING_MIN_NET = 0.15
# A node that went NotReady up to this long after a symptom began may still explain it.
NODE_ONSET_SLACK_S = 120
# Extra hold past a NotReady node's grace, so the gate surely counts it unhealthy.
GRACE_MARGIN_S = 1
# NotReady nodes whose transitions are this close belong to one event (a storm).
STORM_WINDOW_S = 600
SEVERITIES = ("low", "medium", "high", "critical")
# Per-detector facts come from the catalogue (lib/catalogue.py).
PLAYBOOK_BY_DETECTOR = dict(catalogue.PLAYBOOK_BY_DETECTOR)
SYMPTOMS = tuple(d.name for d in catalogue.DETECTORS if d.symptom)
# What losing a node does to the services that ran on it (their load moves elsewhere).
NODE_LOSS_SYMPTOMS = SYMPTOMS + tuple(d.name for d in catalogue.DETECTORS
                                      if d.node_loss_symptom and not d.symptom)
CAUSE_RANK = {d.name: d.cause_rank for d in catalogue.DETECTORS}
# Signals on the same node relate only within a resource family (a disk filling up does not
# explain a memory leak); a NotReady node relates to everything on it.
FAMILY = {d.name: d.family for d in catalogue.DETECTORS if d.family}


def same_family(a: str, b: str) -> bool:
    fa, fb = FAMILY.get(a), FAMILY.get(b)
    return fa == "any" or fb == "any" or (fa is not None and fa == fb)


# diagnosis reads signal records as the one Signal type (lib/signals.py)
Sig = signals.SignalRecord


def at_hms(epoch: float) -> str:
    return clock.isoformat(epoch)[11:19]


def gigabytes(value: Optional[float]) -> str:
    if value is None:
        return "?"
    text = "%.1f" % (value / 1024.0 ** 3)
    return (text[:-2] if text.endswith(".0") else text) + " GB"


def consumers_by_service(pods: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Pods grouped by service, biggest total first; each group's pods biggest first."""
    groups = {}  # type: Dict[Tuple[str, str], Dict[str, Any]]
    for pod in pods:
        key = (pod["namespace"], pod.get("service") or pod["pod"])
        group = groups.setdefault(key, {"service": pod.get("service") or "",
                                        "namespace": pod["namespace"], "bytes": 0.0,
                                        "pods": []})
        group["bytes"] += float(pod["memory_bytes"])
        group["pods"].append(pod)
    for group in groups.values():
        group["pods"].sort(key=lambda p: p["memory_bytes"], reverse=True)
    return sorted(groups.values(), key=lambda g: g["bytes"], reverse=True)


def memory_trend(points: List[Tuple[float, float]]) -> Dict[str, Any]:
    """Linear fit over all points, net growth (first tenth vs last tenth), recent slope.

    `linear`: slope > 0 and R² >= LINEAR_MIN_R2. `growing`: net growth >= GROWING_MIN_NET,
    still rising over the last quarter and ending near its highest tenth (a leak whose speed follows
    the load is not linear in time, but it only goes up).
    """
    slope, r2 = linear_fit(points)
    tenth = max(1, len(points) // 10)
    start = sum(v for _t, v in points[:tenth]) / tenth
    end = sum(v for _t, v in points[-tenth:]) / tenth
    recent = points[-max(3, len(points) // 4):]
    recent_slope, _ = linear_fit(recent)
    net = (end / start - 1.0) if start > 0 else 0.0
    buckets = [points[max(0, j - tenth):j] for j in range(len(points), 0, -tenth)]
    peak = max(sum(v for _t, v in b) / len(b) for b in buckets)
    growing = net >= GROWING_MIN_NET and recent_slope > 0 and end >= 0.9 * peak
    return {"slope": slope, "r2": r2, "linear": slope > 0 and r2 >= LINEAR_MIN_R2,
            "growing": growing or (slope > 0 and r2 >= LINEAR_MIN_R2),
            "net_growth": net, "start": start, "end": end,
            "rate_mb_per_min": slope * 60 / 1024 / 1024,
            "recent_mb_per_min": recent_slope * 60 / 1024 / 1024,
            "recent_s": recent[-1][0] - recent[0][0]}


def linear_fit(points: List[Tuple[float, float]]) -> Tuple[float, float]:
    """Least-squares slope (per second) and R² of the points."""
    n = len(points)
    if n < 3:
        return 0.0, 0.0
    mean_t = sum(p[0] for p in points) / n
    mean_v = sum(p[1] for p in points) / n
    stt = sum((p[0] - mean_t) ** 2 for p in points)
    svv = sum((p[1] - mean_v) ** 2 for p in points)
    stv = sum((p[0] - mean_t) * (p[1] - mean_v) for p in points)
    if stt == 0 or svv == 0:
        return 0.0, 0.0
    return stv / stt, (stv * stv) / (stt * svv)


class Diagnoser(object):
    """Builds one diagnosis from a trigger, recent signals, open incidents and cluster facts."""

    def __init__(self, facts: Any) -> None:
        self.facts = facts
        self.graph = facts.graph()
        self.reasoning = []  # type: List[str]
        self.confidence = 0.55
        self._history = {}  # type: Dict[Tuple[str, str], List[Dict[str, Any]]]
        self._on_node = {}  # type: Dict[str, set]
        self._health = None  # type: Optional[List[Dict[str, Any]]]

    # -- entry point ----------------------------------------------------------------------
    def diagnose(self, trigger: Dict[str, Any], recent: List[Dict[str, Any]],
                 open_incidents: List[Dict[str, Any]]) -> Dict[str, Any]:
        sig = Sig(trigger)
        joined = self.find_incident(sig, open_incidents)
        if joined is not None:
            incident, why = joined
            result = {"joined": True, "incident_id": incident["id"],
                      "playbook": incident.get("playbook", ""), "signal": sig.data,
                      "reasoning": ["%s belongs to open incident %s: %s; no second "
                                    "remediation" % (sig.summary, incident["id"], why)],
                      "summary": "joined %s (%s)" % (incident["id"], why), "refined": False}
            root = incident.get("root_cause") or {}
            already = sig.id in (incident.get("signals") or [])
            # A signal already weighed when the incident was diagnosed cannot refine it again
            # (its own workflow would hand over a second time).
            if not already and self.refines(sig, root):
                # The newcomer is the cause: the incident continues under it, and its
                # playbook (not the symptom's) is the one to run, so this is no mere join.
                playbook = PLAYBOOK_BY_DETECTOR.get(sig.detector, "")
                result.update(joined=False, refined=True, root_cause=sig.data,
                              refined_playbook=playbook, playbook=playbook,
                              playbook_params=self.params_for(sig, sig.first))
                result["reasoning"].append(
                    "root cause refined: %s explains the earlier %s" % (
                        sig.summary, root.get("summary") or root.get("detector")))
                result["summary"] = "root cause of %s refined (%s)" % (incident["id"], why)
            return result
        taken = set()
        for incident in open_incidents:
            taken.update(incident.get("signals") or [])
        cluster = self.correlate(sig, [Sig(r) for r in recent if r.get("signal_id") not in taken])
        return self.explain(sig, cluster)

    # -- rule 1: join ---------------------------------------------------------------------
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

    # -- rule 2: correlate ----------------------------------------------------------------
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

    # -- rules 3-6 ------------------------------------------------------------------------
    def explain(self, trigger: Sig, cluster: List[Sig]) -> Dict[str, Any]:
        onset = min(s.first for s in cluster)
        if len(cluster) > 1:
            self.reasoning.append("%d related signals since %s: %s" % (
                len(cluster), at_hms(onset), "; ".join(
                    "%s %s" % (at_hms(s.first), s.summary) for s in cluster)))
            self.confidence += 0.05
        pressure = [s for s in cluster if s.detector == "memory_pressure" and s.node]
        root, params = None, {}  # type: Optional[Sig], Dict[str, Any]
        if pressure:
            root, params = self.attribute(pressure[0], cluster, onset)
        if root is None:
            root = self.by_node(cluster)
        if root is None:
            root = self.by_direction(cluster, onset)
        if root is None:
            root = self.by_cause(cluster)
        if root is None:
            root = self.by_change(cluster, onset) or cluster[0]
            if len(cluster) > 1 and root is cluster[0]:
                self.reasoning.append("no stronger evidence: the earliest signal (%s) is taken "
                                      "as the root cause" % root.summary)
        if root.detector in NODE_LOSS_SYMPTOMS and root.service and \
                not any(s.detector not in NODE_LOSS_SYMPTOMS for s in cluster):
            root = self.node_under(root) or root
        storm_nodes = self.storm_nodes(root)
        if not params:
            params = self.params_for(root, onset)
        playbook = self.playbook_for(root, cluster, bool(pressure and params.get("node")))
        params.setdefault("dependents", self.graph.dependents(root.service)
                          if root.service else [])
        params["affected_dependents"] = sorted(
            {s.service for s in cluster if s.service and root.service and
             root.service in self.graph.upstream_closure(s.service)})
        affected = sorted({s.service for s in cluster if s.service} |
                          {x for x in (root.service, params.get("service")) if x})
        severity = max((s.severity for s in cluster + [root]), key=SEVERITIES.index)
        self.reasoning.append("conclusion: %s; playbook %s" % (root.summary, playbook))
        return {"joined": False, "root_cause": root.data, "signals": [s.id for s in cluster],
                "signal_records": [s.data for s in cluster],
                "affected_services": affected, "severity": severity,
                "confidence": round(min(0.95, self.confidence), 2), "playbook": playbook,
                "playbook_params": params, "reasoning": list(self.reasoning),
                "summary": self.summary_line(root, params),
                "onset": clock.isoformat(onset), "detected_at": clock.isoformat(trigger.detected),
                "targets": sorted({s.key for s in cluster + [root]} |
                                  {target_key("Node", "", n) for n in storm_nodes}),
                "nodes": sorted({s.node for s in cluster + [root] if s.node} |
                                set(storm_nodes))}

    def attribute(self, node_sig: Sig, cluster: List[Sig], onset: float
                  ) -> Tuple[Optional[Sig], Dict[str, Any]]:
        """Rule 3: node memory pressure -> its top consumer (and why it grew)."""
        node = node_sig.node
        pods = self.facts.pods_on_node(node)
        if not pods:
            self.reasoning.append("no per-pod memory figures for node %s: the node stays the "
                                  "root" % node)
            return None, {}
        total = self.facts.node_memory_total(node)
        services = consumers_by_service(pods)
        top_service = services[0]
        top = top_service["pods"][0]
        share = top_service["bytes"] / total if total else None
        runner_up = services[1]["bytes"] if len(services) > 1 else 0.0
        dominant = (share is not None and share >= ATTRIBUTION_MIN_SHARE) or \
            top_service["bytes"] >= 2 * runner_up
        limit_text = " of its %s limit" % gigabytes(top["limit_bytes"]) \
            if top.get("limit_bytes") else ""
        holding = "%s holds %s%s" % (top["pod"], gigabytes(top["memory_bytes"]), limit_text)
        if len(top_service["pods"]) > 1:
            holding = "%s (%d pods) holds %s; its largest pod %s" % (
                top_service["service"], len(top_service["pods"]),
                gigabytes(top_service["bytes"]), holding)
        if share is not None:
            holding += "; %s holds %d%% of the node's memory" % (
                top_service["service"] or top["pod"], round(share * 100))
        if not dominant:
            self.reasoning.append("no dominant memory consumer on %s (top: %s)" % (node, holding))
            return None, {}
        self.reasoning.append("top memory consumer on %s: %s" % (node, holding))
        self.confidence += 0.15 if share is not None and share >= 0.5 else 0.1
        service, namespace = top.get("service") or "", top["namespace"]
        change = self.recent_change(namespace, service, onset)
        change_fields = self.change_params(change, onset)
        growth = self.growth(namespace, top["pod"], change, onset)
        params = {"node": node, "namespace": namespace, "deployment": service,
                  "service": service, "pod": top["pod"],
                  "top_consumer_bytes": top["memory_bytes"],
                  "top_consumer_limit_bytes": top.get("limit_bytes"),
                  "node_share_pct": round(share * 100, 1) if share is not None else None}
        params.update(change_fields)
        params["linear_growth"] = bool(growth and growth["linear"])
        params["growing"] = bool(growth and growth["growing"])
        leak = next((s for s in cluster if s.detector == "memory_leak" and
                     (s.target["name"] == top["pod"] or (service and s.service == service))),
                    None)
        version = change["version"] if change else self.current_version(namespace, service)
        params.setdefault("version", version)
        if leak is not None:
            root = leak
            self.reasoning.append("the memory_leak signal of %s (%s) explains the node's "
                                  "pressure" % (top["pod"], at_hms(leak.first)))
        elif growth and (growth["linear"] or (growth["growing"] and change)):
            root = self.synthesized_leak(node_sig, top, service, version, change, growth, share)
        else:
            return None, params
        self.reasoning.append("the node's pressure signal came later (%s%s)" % (
            at_hms(node_sig.first), ", %d min after the deploy" % change["minutes_before"]
            if change else ""))
        return root, params

    def synthesized_leak(self, node_sig: Sig, top: Dict[str, Any], service: str, version: str,
                         change: Optional[Dict[str, Any]], growth: Dict[str, Any],
                         share: Optional[float]) -> Sig:
        label = ("%s %s" % (service, version)).strip()
        data = {"signal_id": "diagnosis.memory_leak.%s.%d" % (
                    target_key("Pod", top["namespace"], top["pod"]), int(node_sig.first)),
                "detector": "memory_leak", "synthetic": True,
                "target": {"kind": "Pod", "namespace": top["namespace"], "name": top["pod"],
                           "node": node_sig.node},
                "service": service, "severity": node_sig.severity,
                "first_detected": clock.isoformat(node_sig.first),
                "detected_at": clock.isoformat(clock.now()),
                "summary": "memory leak in %s" % label,
                "evidence": {"query": "container_memory_working_set_bytes", "values": {
                    "usage_bytes": top["memory_bytes"],
                    "growth_mb_per_min": round(growth["rate_mb_per_min"], 2),
                    "net_growth_pct": round(growth["net_growth"] * 100, 1),
                    "r2": round(growth["r2"], 3)}},
                "metadata": {"version": version, "usage_bytes": top["memory_bytes"],
                             "deployed_at": clock.isoformat(change["at"]) if change else "",
                             "limit_bytes": top.get("limit_bytes"),
                             "node_share_pct": round(share * 100, 1) if share else None,
                             "attributed_from": node_sig.id}}
        return Sig(data)

    def by_node(self, cluster: List[Sig]) -> Optional[Sig]:
        """NotReady nodes under the degraded services explain their symptoms (the services
        whose pods run on them, and the services downstream of those)."""
        nodes = [s for s in cluster if s.detector == "node_not_ready" and s.node]
        symptoms = {s.service for s in cluster if s.detector in NODE_LOSS_SYMPTOMS and s.service}
        if not nodes or not symptoms:
            return None
        hosted = set()  # type: set
        for node in nodes:
            hosted |= self.services_on(node)
        unexplained = [s for s in symptoms
                       if s not in hosted and not (self.graph.upstream_closure(s) & hosted)]
        if unexplained:
            return None
        def explained_by(node: Sig) -> int:
            on = self.services_on(node)
            return sum(1 for s in symptoms if s in on or self.graph.upstream_closure(s) & on)

        root = sorted((n for n in nodes if self.services_on(n)),
                      key=lambda n: (-explained_by(n), n.first, n.node))[0]
        under = sorted(hosted & (symptoms | set().union(
            *(self.graph.upstream_closure(s) for s in symptoms))))
        self.reasoning.append(
            "NotReady node(s) %s run pods of %s: the node explains %s" % (
                ", ".join(sorted(n.node for n in nodes)), ", ".join(under) or "?",
                "; ".join(dict.fromkeys(s.summary for s in cluster if s.detector in
                                        NODE_LOSS_SYMPTOMS))))
        self.confidence += 0.15
        return root

    def node_health(self) -> List[Dict[str, Any]]:
        """Every node's Ready state from the facts (cached; [] when unknown)."""
        if self._health is None:
            lookup = getattr(self.facts, "node_health", None)
            try:
                self._health = list(lookup()) if lookup else []
            except Exception as exc:
                LOG.warning("node health unavailable: %s", exc)
                self._health = []
        return self._health

    def node_under(self, symptom: Sig) -> Optional[Sig]:
        """A node that went NotReady by the symptom's onset under the service's pods (no node
        signal yet: the detector waits for its grace period) is the cause."""
        lookup = getattr(self.facts, "nodes_of_service", None)
        try:
            hosts = set(lookup(symptom.target["namespace"], symptom.service)) if lookup \
                else set()
        except Exception as exc:
            LOG.warning("nodes of %s unavailable: %s", symptom.service, exc)
            hosts = set()
        down = [n for n in self.node_health() if n["name"] in hosts and
                str(n.get("ready")) != "True" and n.get("since") is not None and
                symptom.first - CORRELATION_WINDOW_S <= float(n["since"]) <=
                symptom.first + NODE_ONSET_SLACK_S]
        if not down:
            return None
        node = sorted(down, key=lambda n: (float(n["since"]), n["name"]))[0]
        since = float(node["since"])
        name = node["name"]
        others = sorted(n["name"] for n in down if n["name"] != name)
        self.reasoning.append(
            "%s runs pods on node%s %s, NotReady (%s) since %s, when its symptom began (%s): "
            "the node explains %s" % (
                symptom.service, "s" if others else "", ", ".join([name] + others),
                node["ready"], at_hms(since), at_hms(symptom.first), symptom.summary))
        self.confidence += 0.15
        data = {"signal_id": "diagnosis.node_not_ready.%s.%d" % (
                    target_key("Node", "", name), int(since)),
                "detector": "node_not_ready", "synthetic": True,
                "target": {"kind": "Node", "namespace": "", "name": name, "node": name},
                "service": "", "severity": symptom.severity,
                "first_detected": clock.isoformat(since),
                "detected_at": clock.isoformat(clock.now()),
                "summary": "node %s not ready (%s) for %d s, under the pods of %s" % (
                    name, node["ready"], max(0, int(clock.now() - since)), symptom.service),
                "evidence": {"query": "Ready condition of node %s" % name,
                             "values": {"not_ready_seconds": max(0.0, clock.now() - since)}},
                "metadata": {"ready_status": node["ready"],
                             "not_ready_seconds": max(0, int(clock.now() - since)),
                             "grace_wait_s": self.grace_wait(clock.now() - since),
                             "attributed_from": symptom.id}}
        return Sig(data)

    def grace_wait(self, not_ready_s: float) -> int:
        """Seconds the node playbook holds before acting on a node NotReady for only
        `not_ready_s` (the detector's grace, so a blip is not cordoned; 0 when past it)."""
        grace = 300.0
        settings = getattr(self.facts, "settings", None)
        try:
            detectors = getattr(settings, "detectors", None) or settings["detectors"]
            grace = float(detectors["node_not_ready"]["grace_s"])
        except Exception:
            pass
        left = grace - max(0.0, not_ready_s)
        return int(math.ceil(left + GRACE_MARGIN_S)) if left > 0 else 0

    def storm_nodes(self, root: Sig) -> List[str]:
        """When the root is a NotReady node: every node NotReady since about the same time.
        Several at once is a storm (one event, one incident); the reasoning says so."""
        if root.detector != "node_not_ready":
            return []
        health = self.node_health()
        down = sorted(n["name"] for n in health if str(n.get("ready")) != "True" and (
            n.get("since") is None or abs(float(n["since"]) - root.first) <= STORM_WINDOW_S))
        if len(down) < 2:
            return []
        limit = self.storm_limit(len(health))
        storm = len(down) > limit
        note = "%d of %d nodes NotReady since about %s (%s)%s" % (
            len(down), len(health), at_hms(root.first), ", ".join(down),
            ": a node storm (more than %d)" % limit if storm else "")
        self.reasoning.append(note)
        if storm:
            root.data["summary"] = "%s; node storm: %d of %d nodes NotReady" % (
                root.summary, len(down), len(health))
            root.data.setdefault("metadata", {})["storm"] = {
                "unhealthy": down, "total_nodes": len(health), "limit": limit}
            root.metadata = root.data["metadata"]
        return down

    def storm_limit(self, total: int) -> int:
        """The policy gate's storm limit (budgets max_unhealthy_nodes[_pct])."""
        budgets = {}  # type: Dict[str, Any]
        settings = getattr(self.facts, "settings", None)
        try:
            budgets = dict(getattr(settings, "budgets", None) or settings["budgets"])
        except Exception:
            pass
        max_nodes = int(budgets.get("max_unhealthy_nodes", 3))
        by_pct = int(total * float(budgets.get("max_unhealthy_nodes_pct", 10)) / 100.0)
        return max(1, min(max_nodes, by_pct)) if max_nodes > 0 else 0

    def by_direction(self, cluster: List[Sig], onset: float) -> Optional[Sig]:
        """Rule 5: the most upstream degraded service explains the others."""
        by_service = {}  # type: Dict[str, List[Sig]]
        for sig in cluster:
            if sig.service:
                by_service.setdefault(sig.service, []).append(sig)
        if len(by_service) < 2:
            return None
        services = set(by_service)
        roots = sorted(s for s in services if not (self.graph.upstream_closure(s) & services))
        if not roots or len(roots) == len(services):
            return None
        root_service = self.prefer_changed(roots, by_service, onset)
        root = sorted(by_service[root_service],
                      key=lambda s: (CAUSE_RANK.get(s.detector, 9), s.first))[0]
        for service in sorted(services - {root_service}):
            route = self.graph.path(service, root_service)
            if route:
                self.reasoning.append(
                    "%s of %s is explained by upstream %s (call path %s)" % (
                        " and ".join(sorted({s.detector for s in by_service[service]})),
                        service, root_service, " -> ".join(route)))
        self.reasoning.append("%s is the most upstream degraded service: %s" % (
            root_service, root.summary))
        self.confidence += 0.15
        return root

    def by_cause(self, cluster: List[Sig]) -> Optional[Sig]:
        """A cause-type signal (NotReady node, leak, crash loop, pool) explains symptoms
        (latency, errors) of the services it relates to."""
        symptoms = [s for s in cluster if s.detector in SYMPTOMS]
        causes = [s for s in cluster if s.detector not in SYMPTOMS]
        if not symptoms or not causes:
            return None
        explaining = [c for c in causes if all(self.related(c, s) for s in symptoms)]
        if not explaining:
            return None
        root = sorted(explaining, key=lambda s: (CAUSE_RANK.get(s.detector, 99), s.first))[0]
        self.reasoning.append("%s explains %s" % (root.summary, "; ".join(
            s.summary for s in symptoms)))
        self.confidence += 0.1
        return root

    def by_change(self, cluster: List[Sig], onset: float) -> Optional[Sig]:
        """Rule 6 as a tie-breaker: the one service changed shortly before onset."""
        changed = [s for s in cluster if s.service and
                   self.recent_change(s.target["namespace"], s.service, onset)]
        services = {s.service for s in changed}
        if len(services) == 1 and len(cluster) > 1:
            root = sorted(changed, key=lambda s: (CAUSE_RANK.get(s.detector, 9), s.first))[0]
            self.reasoning.append("%s is the only affected service changed before onset" %
                                  root.service)
            return root
        return None

    def prefer_changed(self, services: List[str], by_service: Dict[str, List[Sig]],
                       onset: float) -> str:
        changed = [s for s in services if self.recent_change(
            by_service[s][0].target["namespace"], s, onset)]
        pool = changed or services
        return min(pool, key=lambda s: min(x.first for x in by_service[s]))

    # -- evidence helpers -----------------------------------------------------------------
    def history(self, namespace: str, service: str) -> List[Dict[str, Any]]:
        key = (namespace, service)
        if key not in self._history:
            try:
                self._history[key] = self.facts.deploy_history(namespace, service) \
                    if namespace and service else []
            except Exception as exc:
                LOG.warning("deploy history of %s/%s unavailable: %s", namespace, service, exc)
                self.reasoning.append("deploy history of %s unavailable (%s)" % (service, exc))
                self._history[key] = []
        return self._history[key]

    def current_version(self, namespace: str, service: str) -> str:
        revisions = self.history(namespace, service)
        current = next((r for r in revisions if r.get("current")), revisions[0]
                       if revisions else None)
        return current["version"] if current else ""

    def recent_change(self, namespace: str, service: str, onset: float
                      ) -> Optional[Dict[str, Any]]:
        """Rule 6: the current revision rolled out within CHANGE_WINDOW_S before onset."""
        revisions = self.history(namespace, service)
        if not revisions:
            return None
        current = next((r for r in revisions if r.get("current")), revisions[0])
        at = float(current["created_epoch"])
        if not onset - CHANGE_WINDOW_S <= at <= onset + 60:
            return None
        previous = next((r for r in revisions if r["revision"] < current["revision"]), None)
        return {"service": service, "namespace": namespace, "version": current["version"],
                "revision": current["revision"], "at": at,
                "minutes_before": int(round((onset - at) / 60.0)),
                "previous_version": previous["version"] if previous else "",
                "previous_revision": previous["revision"] if previous else 0}

    def change_params(self, change: Optional[Dict[str, Any]], onset: float) -> Dict[str, Any]:
        if not change:
            return {"recent_deploy": False}
        self.confidence += 0.15
        config_only = change["version"] == change["previous_version"]
        if config_only:
            self.reasoning.append(
                "configuration of %s changed %d min before onset (revision %d, same image %s)"
                % (change["service"], change["minutes_before"], change["revision"],
                   change["version"]))
        else:
            prev = " (previous %s)" % change["previous_version"] \
                if change["previous_version"] else ""
            self.reasoning.append("%s %s deployed %d min before onset%s" % (
                change["service"], change["version"], change["minutes_before"], prev))
        return {"recent_deploy": True, "config_change": config_only, "version": change["version"],
                "previous_version": change["previous_version"],
                "previous_revision": change["previous_revision"],
                "deployed_at": clock.isoformat(change["at"]),
                "deployed_minutes_before_onset": change["minutes_before"]}

    def growth(self, namespace: str, pod: str, change: Optional[Dict[str, Any]],
               onset: float) -> Optional[Dict[str, Any]]:
        since = change["at"] if change else onset - CHANGE_WINDOW_S
        lookback = max(300.0, clock.now() - since)
        try:
            points = self.facts.memory_series(namespace, pod, lookback)
        except Exception:
            return None
        points = [p for p in points if p[0] >= since]
        if len(points) < 5:
            return None
        trend = memory_trend(points)
        since_text = "the deploy" if change else at_hms(since)
        if trend["linear"]:
            self.confidence += 0.1
            self.reasoning.append("memory grew linearly since %s (+%.0f MB/min, R² %.2f)" % (
                since_text, trend["rate_mb_per_min"], trend["r2"]))
        elif trend["growing"]:
            self.confidence += 0.05
            self.reasoning.append(
                "memory grew %d%% since %s (%s -> %s), +%.0f MB/min over the last %d min" % (
                    round(trend["net_growth"] * 100), since_text, gigabytes(trend["start"]),
                    gigabytes(trend["end"]), trend["recent_mb_per_min"],
                    round(trend["recent_s"] / 60.0)))
        else:
            self.reasoning.append("memory of %s did not keep growing since %s (%+d%%)" % (
                pod, since_text, round(trend["net_growth"] * 100)))
        return trend

    def params_for(self, root: Sig, onset: float) -> Dict[str, Any]:
        target = root.target
        params = {"node": root.node, "namespace": target["namespace"],
                  "service": root.service, "deployment": root.service,
                  "pod": target["name"] if target["kind"] == "Pod" else "",
                  "target": dict(target)}
        change = self.recent_change(target["namespace"], root.service, onset) \
            if root.service else None
        params.update(self.change_params(change, onset))
        if not change and root.service:
            params["version"] = self.current_version(target["namespace"], root.service)
        return params

    def playbook_for(self, root: Sig, cluster: List[Sig], node_pressure: bool) -> str:
        if node_pressure and root.detector in ("memory_leak", "memory_pressure"):
            return "memory_pressure_node"
        if root.detector in SYMPTOMS and root.service:
            downstream = self.graph.downstream_closure(root.service)
            if any(s.service in downstream for s in cluster):
                return "cascade_protection"
        return PLAYBOOK_BY_DETECTOR.get(root.detector, "")

    def summary_line(self, root: Sig, params: Dict[str, Any]) -> str:
        """The DIAGNOSE line: top consumer, recent deploy, growth, conclusion."""
        parts = []
        if params.get("pod") and params.get("top_consumer_bytes"):
            limit = " of its %s limit" % gigabytes(params["top_consumer_limit_bytes"]) \
                if params.get("top_consumer_limit_bytes") else ""
            parts.append("top consumer %s (%s%s)" % (
                params["pod"], gigabytes(params["top_consumer_bytes"]), limit))
        if params.get("recent_deploy"):
            parts.append("recent %s %s %s, %d minutes earlier" % (
                "configuration change of" if params.get("config_change") else "deploy",
                params["service"], params["version"], params["deployed_minutes_before_onset"]))
        leak_like = root.detector == "memory_leak"
        if params.get("linear_growth") or (leak_like and params.get("growing")):
            since = "since the deploy" if params.get("recent_deploy") else "over the last hour"
            parts.append("%smemory growth %s (likely a leak in %s)" % (
                "linear " if params.get("linear_growth") else "", since,
                params.get("version") or params.get("service")))
        else:
            parts.append("root cause: %s" % root.summary)
        return "; ".join(parts)


def merge_joined(record: Dict[str, Any], signal: Dict[str, Any],
                 result: Dict[str, Any]) -> bool:
    """Fold a joined signal into its incident record (signals, services, node, refined root);
    return False when the signal was already part of it."""
    sig = Sig(signal)
    if sig.id in (record.get("signals") or []):
        return False
    record.setdefault("signals", []).append(sig.id)
    affected = record.setdefault("affected_services", [])
    if sig.service and sig.service not in affected:
        affected.append(sig.service)
    if sig.node and sig.node not in record.setdefault("nodes", []):
        record["nodes"].append(sig.node)
    if sig.key not in record.setdefault("targets", []):
        record["targets"].append(sig.key)
    if SEVERITIES.index(sig.severity) > SEVERITIES.index(record.get("severity") or "low"):
        record["severity"] = sig.severity
    if result.get("refined"):
        record["root_cause"] = result["root_cause"]
        record["reasoning"] = list(record.get("reasoning") or []) + result["reasoning"][1:]
        record.setdefault("playbook_history", []).append(record.get("playbook") or "")
        record["playbook"] = result["playbook"]
        record["playbook_params"] = result["playbook_params"]
    return True


def diagnose(trigger: Dict[str, Any], facts: Any, recent: List[Dict[str, Any]],
             open_incidents: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Convenience wrapper: one Diagnoser, one answer."""
    return Diagnoser(facts).diagnose(trigger, recent, open_incidents)


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


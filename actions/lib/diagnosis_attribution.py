"""Diagnosis rules 3-5: which signal of a cluster is the root cause (node memory pressure ->
its top consumer and why it grew, NotReady nodes under the degraded services, a node storm,
the most upstream service, the cause-type signal)."""
import math
from typing import Any, Dict, List, Optional, Tuple

from lib import clock
from lib.catalogue import target_key
from lib.diagnosis_base import (ATTRIBUTION_MIN_SHARE, CAUSE_RANK, CHANGE_WINDOW_S,
                                CORRELATION_WINDOW_S, GRACE_MARGIN_S, GROWING_MIN_NET,
                                LINEAR_MIN_R2, LOG, NODE_LOSS_SYMPTOMS, NODE_ONSET_SLACK_S,
                                STORM_WINDOW_S, SYMPTOMS, Sig, at_hms, gigabytes)


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


class Attribution(object):
    """The root-cause part of the Diagnoser (uses self.facts, self.graph, self.reasoning)."""

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

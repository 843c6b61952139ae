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
 3b. oom     OOMKilled crash loops on a node whose memory reached the memory_pressure threshold,
             or several containers OOM-killed below their limits on one node, are the node's:
             its memory_pressure signal (or a synthesized one) is the root, also when such a
             signal joins an incident rooted in an OOMKilled crash loop (a refinement); one
             container that died at its own limit on a roomy node stays a pod problem;
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

The Diagnoser is assembled from one module per seam: diagnosis_correlation (rules 1-2),
diagnosis_attribution (3-5), diagnosis_oom (3b), diagnosis_changes (6), diagnosis_summary
(playbook, parameters, the DIAGNOSE line); diagnosis_base holds the windows, thresholds and
the signal type. Every public name stays importable from here.
"""
from typing import Any, Dict, List

from lib import cascade, clock
from lib.catalogue import target_key
from lib.diagnosis_attribution import (Attribution, consumers_by_service, linear_fit,
                                       memory_trend)
from lib.diagnosis_base import (ATTRIBUTION_MIN_SHARE, CAUSE_RANK, CHANGE_WINDOW_S,
                                CORRELATION_WINDOW_S, FAMILY, GRACE_MARGIN_S, GROWING_MIN_NET,
                                LINEAR_MIN_R2, LOG, NODE_LOSS_SYMPTOMS, NODE_ONSET_SLACK_S,
                                PLAYBOOK_BY_DETECTOR, SEVERITIES, STORM_WINDOW_S, SYMPTOMS, Sig,
                                at_hms, gigabytes)
from lib.diagnosis_changes import ChangeDetection
from lib.diagnosis_correlation import Correlation, disrupted_services, same_family
from lib.diagnosis_oom import OomAttribution
from lib.diagnosis_summary import Summary

# the public names (the rules live in the diagnosis_* modules)
__all__ = ["ATTRIBUTION_MIN_SHARE", "CAUSE_RANK", "CHANGE_WINDOW_S", "CORRELATION_WINDOW_S",
           "Diagnoser", "FAMILY", "GRACE_MARGIN_S", "GROWING_MIN_NET", "LINEAR_MIN_R2", "LOG",
           "NODE_LOSS_SYMPTOMS", "NODE_ONSET_SLACK_S", "PLAYBOOK_BY_DETECTOR", "SEVERITIES",
           "STORM_WINDOW_S", "SYMPTOMS", "Sig", "at_hms", "consumers_by_service", "diagnose",
           "disrupted_services", "gigabytes", "linear_fit", "memory_trend", "merge_joined",
           "same_family"]


class Diagnoser(Correlation, Attribution, OomAttribution, ChangeDetection, Summary):
    """Builds one diagnosis from a trigger, recent signals, open incidents and cluster facts."""

    def __init__(self, facts: Any) -> None:
        self.facts = facts
        self.graph = facts.graph()
        self.reasoning = []  # type: List[str]
        self.confidence = 0.55
        self._history = {}  # type: Dict[Tuple[str, str], List[Dict[str, Any]]]
        self._on_node = {}  # type: Dict[str, set]
        self._health = None  # type: Optional[List[Dict[str, Any]]]
        self._oom_kills = {}  # type: Dict[str, List[Dict[str, Any]]]

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
            cause = None  # type: Optional[Sig]
            if not already:
                cause = sig if self.refines(sig, root) else self.oom_refinement(sig, root)
            if cause is not None:
                # The newcomer is (or reveals) the cause: the incident continues under it, and
                # its playbook (not the symptom's) is the one to run, so this is no mere join.
                playbook = PLAYBOOK_BY_DETECTOR.get(cause.detector, "")
                params = self.params_for(cause, cause.first)
                # the new root's callers, as for a fresh diagnosis (cascade protection)
                for key, value in cascade.callers(self.graph, cause.service).items():
                    params.setdefault(key, value)
                result.update(joined=False, refined=True, root_cause=cause.data,
                              refined_playbook=playbook, playbook=playbook,
                              playbook_params=params)
                result["reasoning"].extend(self.reasoning)
                result["reasoning"].append(
                    "root cause refined: %s explains the earlier %s" % (
                        cause.summary, root.get("summary") or root.get("detector")))
                result["summary"] = "root cause of %s refined (%s)" % (incident["id"], why)
            return result
        taken = set()
        for incident in open_incidents:
            taken.update(incident.get("signals") or [])
        cluster = self.correlate(sig, [Sig(r) for r in recent if r.get("signal_id") not in taken])
        return self.explain(sig, cluster)

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
            root = self.by_oom(cluster, pressure)
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
        for key, value in cascade.callers(self.graph, root.service).items():
            params.setdefault(key, value)
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


"""Diagnosis rule 3b: OOMKilled crash loops on a node short of memory are the node's doing.

A container killed for memory (last termination OOMKilled) on a node whose memory utilisation
reached the memory_pressure detector's threshold in the recent past, or one of several
containers on one node OOM-killed below their own limits (the kernel picked victims to free
the node, it was not a cgroup limit), is a symptom of node memory pressure: restarting it frees
nothing. The node becomes the root cause (the memory_pressure signal of the node when there is
one, else a synthesized one) and its playbook, memory_pressure_node, runs. A single container
that died at its own limit on a node with memory to spare stays a pod/deployment problem (a
leak, or a limit too small).
"""
from typing import Any, Dict, List, Optional

from lib import clock
from lib.catalogue import target_key
from lib.diagnosis_base import CORRELATION_WINDOW_S, LOG, SEVERITIES, Sig, gigabytes

OOM_REASON = "OOMKilled"
# A container whose peak working set came this close to its memory limit may have died at
# the limit (cgroup OOM) rather than as the node's victim.
AT_LIMIT_FRACTION = 0.95
# Look back at least this long for node memory peaks and OOM kills (a crash loop's window).
OOM_LOOKBACK_MIN_S = 600
# Below-limit OOM kills on one node that point at the node without a utilisation peak.
NODE_OOM_MIN_PODS = 2


def is_oom_crash(sig: Sig) -> bool:
    """A crash-loop signal whose last termination was OOMKilled, on a known node."""
    return sig.detector == "crash_loop" and bool(sig.node) and \
        str((sig.metadata or {}).get("reason") or "") == OOM_REASON


def at_limit(pod: Dict[str, Any]) -> Optional[bool]:
    """True when the pod's peak came within AT_LIMIT_FRACTION of its limit, False when it
    stayed below it (or it has no limit: only the node can OOM-kill it), None if unknown."""
    limit = pod.get("limit_bytes")
    if not limit:
        return False
    peak = pod.get("peak_bytes")
    if peak is None:
        return None
    return float(peak) >= AT_LIMIT_FRACTION * float(limit)


class OomAttribution(object):
    """The OOM part of the Diagnoser (uses self.facts, self.reasoning, self.confidence and
    self._oom_kills, the OOM-killed pods per node it looked up)."""

    def by_oom(self, cluster: List[Sig], pressure: List[Sig]) -> Optional[Sig]:
        """Rule 3b: an OOMKilled crash loop on a node short of memory -> the node."""
        crashes = [s for s in cluster if is_oom_crash(s)]
        for node in sorted({s.node for s in crashes}):
            on_node = [s for s in crashes if s.node == node]
            signal = next((p for p in pressure if p.node == node), None)
            why = "the node's own signal: %s" % signal.summary if signal is not None \
                else self.node_oom_evidence(node, on_node)
            if not why:
                continue
            self.reasoning.append("%s: %s; restarting the containers frees nothing, the node "
                                  "is the root cause" % (
                                      "; ".join(s.summary for s in on_node), why))
            self.confidence += 0.15
            return signal or self.synthesized_pressure(node, on_node, why)
        return None

    def oom_refinement(self, sig: Sig, root: Dict[str, Any]) -> Optional[Sig]:
        """A signal joining an incident whose root is an OOMKilled crash loop names the node
        instead: the node's memory_pressure signal, or a second OOMKilled crash loop on the
        same node once the node evidence holds."""
        old = Sig(root)
        if not is_oom_crash(old) or sig.node != old.node:
            return None
        if sig.detector == "memory_pressure" and sig.target["kind"] == "Node":
            self.reasoning.append("memory pressure on node %s explains the OOM kills of %s" % (
                sig.node, old.summary))
            return sig
        if not is_oom_crash(sig) or sig.key == old.key:
            return None
        return self.by_oom([old, sig], [])

    def node_oom_evidence(self, node: str, crashes: List[Sig]) -> str:
        """Why the node explains these OOM kills ('' when it does not)."""
        lookback = self.oom_lookback(crashes)
        threshold = self.pressure_threshold()
        peak = self._fact("node_memory_peak_pct", None, node, lookback)
        if peak is not None and threshold is not None and float(peak) >= threshold:
            return "node %s memory peaked at %d%% in the last %d min (memory_pressure " \
                   "threshold %g%%)" % (node, round(float(peak)), round(lookback / 60.0),
                                        threshold)
        kills = list(self._fact("oom_kills_on_node", [], node, lookback) or [])
        self._oom_kills[node] = kills
        known = {(k.get("namespace"), k.get("pod")) for k in kills}
        for sig in crashes:  # the signals' own pods count even when the query missed them
            if (sig.target["namespace"], sig.target["name"]) not in known:
                kills.append({"namespace": sig.target["namespace"], "pod": sig.target["name"],
                              "service": sig.service, "limit_bytes": None,
                              "peak_bytes": None, "unknown": True})
        below = [k for k in kills if not k.get("unknown") and at_limit(k) is False]
        limited = [k for k in kills if at_limit(k)]
        if len(below) >= NODE_OOM_MIN_PODS:
            return "%d containers OOM-killed on node %s in the last %d min below their " \
                   "memory limits (%s): the node ran out of memory" % (
                       len(below), node, round(lookback / 60.0), ", ".join(
                           "%s %s of %s" % (k["pod"], gigabytes(k.get("peak_bytes")),
                                            gigabytes(k.get("limit_bytes")))
                           for k in sorted(below, key=lambda k: k["pod"])))
        if peak is not None:
            self.reasoning.append(
                "node %s memory peaked at %d%% (below the memory_pressure threshold %s%%)%s: "
                "the OOM kill is the container's own" % (
                    node, round(float(peak)), "?" if threshold is None else "%g" % threshold,
                    "; %s died at its memory limit" % ", ".join(k["pod"] for k in limited)
                    if limited else ""))
        return ""

    def oom_lookback(self, crashes: List[Sig]) -> float:
        earliest = min(s.first for s in crashes)
        window = max(int((s.metadata or {}).get("window_minutes") or 0) for s in crashes) * 60
        return float(min(CORRELATION_WINDOW_S, max(
            OOM_LOOKBACK_MIN_S, window, clock.now() - earliest + window)))

    def pressure_threshold(self) -> Optional[float]:
        """The memory_pressure detector's threshold_pct (pack config, else its default)."""
        settings = getattr(self.facts, "settings", None)
        try:
            detectors = getattr(settings, "detectors", None) or settings["detectors"]
            return float(detectors["memory_pressure"]["threshold_pct"])
        except Exception:
            pass
        try:
            from lib import config

            return float(config.defaults()["detectors"]["memory_pressure"]["threshold_pct"])
        except Exception as exc:
            LOG.warning("memory_pressure threshold unavailable: %s", exc)
            return None

    def synthesized_pressure(self, node: str, crashes: List[Sig], why: str) -> Sig:
        first = min(s.first for s in crashes)
        kills = self._oom_kills.get(node) or []
        services = sorted({s.service for s in crashes if s.service} |
                          {k["service"] for k in kills if k.get("service")})
        pods = sorted({s.target["name"] for s in crashes} | {k["pod"] for k in kills})
        data = {"signal_id": "diagnosis.memory_pressure.%s.%d" % (
                    target_key("Node", "", node), int(first)),
                "detector": "memory_pressure", "synthetic": True,
                "target": {"kind": "Node", "namespace": "", "name": node, "node": node},
                "service": "", "severity": max((s.severity for s in crashes),
                                               key=SEVERITIES.index),
                "first_detected": clock.isoformat(first),
                "detected_at": clock.isoformat(clock.now()),
                "summary": "memory pressure on node %s: %d OOM-killed crash-looping "
                           "container(s) of %s" % (node, len(pods),
                                                   ", ".join(services or pods)),
                "evidence": {"query": "OOMKilled containers and memory of node %s" % node,
                             "values": {"oom_killed_pods": len(pods)}},
                "metadata": {"oom_killed_pods": pods, "services": services, "why": why,
                             "threshold_pct": self.pressure_threshold(),
                             "attributed_from": crashes[0].id}}
        return Sig(data)

    def _fact(self, name: str, default: Any, *args: Any) -> Any:
        lookup = getattr(self.facts, name, None)
        if lookup is None:
            return default
        try:
            return lookup(*args)
        except Exception as exc:
            LOG.warning("%s%s unavailable: %s", name, args, exc)
            return default


__all__ = ["AT_LIMIT_FRACTION", "NODE_OOM_MIN_PODS", "OOM_LOOKBACK_MIN_S", "OomAttribution",
           "at_limit", "is_oom_crash"]

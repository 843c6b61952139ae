"""crash_loop: a container restarting repeatedly, with its last termination reason."""
from typing import Any, Dict, List, Optional, Tuple

from lib.detectors.base import (MAX_TARGETS, ONSET_STEP_S, Detector, selector,
                                service_of_pod)
from lib.signals import Signal, make_target

KEY = ("namespace", "pod", "container")
ON = "on(namespace, pod, container)"
RESTARTS = "kube_pod_container_status_restarts_total{%s}"
# With CrashLoopBackOff showing, this many restarts in three windows are enough (the kubelet
# backs off after the second failure; a pod that failed once or twice while a rollout
# waited on a dependency is not a crash loop).
MIN_RESTARTS_WITH_BACKOFF = 3
MAX_API_LOOKUPS = 10


class CrashLoopDetector(Detector):
    """More than `restarts` restarts within `window` (seed: > 5 in 10 min), or waiting in
    CrashLoopBackOff with at least 3 restarts in three windows (the kubelet's back-off grows
    to 5 minutes, so a long crash loop restarts only twice per 10 minutes).

    A cheap first pass (CrashLoopBackOff seen in the window: a small series family) picks
    candidates; restarts are then counted exactly for those, as max - min of the counter
    over the window (no `increase()` extrapolation). The last termination reason comes from
    kube-state-metrics; the exit code from its exit-code series or the pod's
    containerStatuses (API, only for the few matching pods). Onset: the first restart of the
    current streak (restarts no more than one window apart). Severity: critical at three
    times the threshold, else high.
    """

    name = "crash_loop"
    kind = "Pod"
    freshness_query = "time() - max(timestamp(kube_pod_container_status_restarts_total))"

    def prefilter_query(self) -> str:
        """Cheap first pass: containers that were in CrashLoopBackOff at any sample of the
        window (kube-state-metrics exports the waiting reason only while a container waits,
        and the kubelet backs off after every failed restart, so any container restarting
        repeatedly shows it)."""
        return ('topk(%d, max_over_time(kube_pod_container_status_waiting_reason{'
                'reason="CrashLoopBackOff"}[%s]))' % (4 * MAX_TARGETS, self.cfg["window"]))

    def _counted(self, sel: str, window: str) -> Dict[Tuple[str, ...], float]:
        """Exact restarts within `window` (max - min of the counter) for the selection."""
        return self._values_of("max_over_time(%s[%s]) - min_over_time(%s[%s])" % (
            RESTARTS % sel, window, RESTARTS % sel, window))

    def detect(self, now: float) -> List[Signal]:
        query = self.prefilter_query()
        rough = {tuple(s.labels.get(k, "") for k in KEY) for s in self.prom.query(query)}
        if not rough:
            return []
        rough_sel = selector({}, pod=[k[1] for k in rough])
        backoff = set(self._labels_of(
            'kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff",%s} > 0'
            % rough_sel, "reason"))
        in_window = self._counted(rough_sel, self.cfg["window"])
        in_long = self._counted(rough_sel, "%ds" % (3 * self.duration("window")))
        threshold = int(self.cfg["restarts"])
        found = {}
        for key in rough:
            if in_window.get(key, 0) > threshold or (
                    key in backoff and in_long.get(key, 0) >= MIN_RESTARTS_WITH_BACKOFF):
                found[key] = in_window.get(key, 0.0)
        if not found:
            return []
        sel = selector({}, pod=[k[1] for k in found])
        waiting = self._labels_of("kube_pod_container_status_waiting_reason{%s} > 0" % sel,
                                  "reason")
        last_reason = self._labels_of(
            "kube_pod_container_status_last_terminated_reason{%s} > 0" % sel, "reason")
        exit_codes = {k: int(v) for k, v in self._values_of(
            "kube_pod_container_status_last_terminated_exitcode{%s}" % sel).items()}
        nodes = {(s.labels.get("namespace", ""), s.labels.get("pod", "")): s.labels.get(
            "node", "") for s in self.prom.query("kube_pod_info{%s}" % sel)}
        window_s = self.duration("window")
        onsets = self._streak_starts(sel, window_s)
        signals = []
        for index, key in enumerate(sorted(found)):
            restarts = found[key]
            namespace, pod, container = key
            reason, code = last_reason.get(key, ""), exit_codes.get(key)
            node = nodes.get((namespace, pod), "")
            if (code is None or not reason) and index < MAX_API_LOOKUPS:
                api = self._from_api(namespace, pod, container)
                reason = reason or api.get("reason") or ""
                code = code if code is not None else api.get("exit_code")
                node = node or api.get("node") or ""
            signals.append(self._signal(key, int(round(restarts)), window_s, reason, code,
                                        waiting.get(key, ""), node, onsets.get(key),
                                        query, now))
        return signals

    def _signal(self, key: Tuple[str, ...], restarts: int, window_s: int, reason: str,
                exit_code: Optional[int], waiting: str, node: str, onset: Optional[float],
                query: str, now: float) -> Signal:
        namespace, pod, container = key
        threshold = int(self.cfg["restarts"])
        summary = "crash loop of %s/%s (%s): %d restarts in %d min, last %s (exit %s)%s" % (
            namespace, pod, container, restarts, window_s // 60, reason or "unknown",
            "n/a" if exit_code is None else exit_code,
            ", %s" % waiting if waiting else "")
        return Signal(
            detector=self.name, target=make_target("Pod", pod, namespace, node),
            service=service_of_pod(pod, container),
            severity="critical" if restarts >= 3 * threshold else "high",
            first_detected=onset, detected_at=now, summary=summary,
            evidence={"query": query, "values": {"restarts": restarts}},
            metadata={"restarts": restarts, "window_minutes": window_s // 60,
                      "reason": reason, "exit_code": exit_code, "waiting_reason": waiting,
                      "container": container})

    def _labels_of(self, query: str, label: str) -> Dict[Tuple[str, ...], str]:
        return {tuple(s.labels.get(k, "") for k in KEY): s.labels.get(label, "")
                for s in self.prom.query(query)}

    def _values_of(self, query: str) -> Dict[Tuple[str, ...], float]:
        return {tuple(s.labels.get(k, "") for k in KEY): s.value
                for s in self.prom.query(query)}

    def _streak_starts(self, sel: str, window_s: int) -> Dict[Tuple[str, ...], float]:
        """Time of the first restart of each container's current restart streak."""
        starts: Dict[Tuple[str, ...], float] = {}
        for series in self.prom.query_range(RESTARTS % sel, 3 * window_s, ONSET_STEP_S):
            key = tuple(series.labels.get(k, "") for k in KEY)
            increases = [t for (t0, v0), (t, v) in zip(series.points, series.points[1:])
                         if v > v0]
            if not increases:
                continue
            start = increases[-1]
            for earlier in reversed(increases[:-1]):
                if start - earlier > window_s:
                    break
                start = earlier
            starts[key] = start
        return starts

    def _from_api(self, namespace: str, pod: str, container: str) -> Dict[str, Any]:
        """Last termination reason, exit code and node from the pod's containerStatuses."""
        if self.kube is None:
            return {}
        obj = self.kube_read(self.kube.core.read_namespaced_pod, pod, namespace)
        if obj is None:
            return {}
        result: Dict[str, Any] = {"node": getattr(obj.spec, "node_name", "") or ""}
        for status in (getattr(obj.status, "container_statuses", None) or []):
            if status.name != container:
                continue
            terminated = getattr(getattr(status, "last_state", None), "terminated", None)
            if terminated is not None:
                result["reason"] = terminated.reason or ""
                result["exit_code"] = terminated.exit_code
        return result

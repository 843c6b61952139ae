"""disk_pressure: node root filesystem nearly full, filling up, or DiskPressure condition."""
from typing import Dict, List, Optional

from lib.detectors.base import MAX_TARGETS, Detector, fmt, rounded, selector, service_of_pod
from lib.signals import Signal, make_target

FS = 'mountpoint="/"'
AVAIL = "node_filesystem_avail_bytes{%s}"
AVAIL_PCT = "(100 * node_filesystem_avail_bytes{%(sel)s} / node_filesystem_size_bytes{%(sel)s})"
CONDITION = 'kube_node_status_condition{condition="DiskPressure",status="true"%s} > 0'


class DiskPressureDetector(Detector):
    """Fires on any of: available space of `/` below `avail_pct`; the DiskPressure node
    condition; or `predict_linear` projecting the disk full within `horizon_h`, both over
    `window` and over its last quarter (so the filling is still going on now). A nightly
    backup writing slowly never projects full within the horizon, and space it frees stops
    the recent projection at once. hours_to_full = avail / fill rate of the last quarter
    window. Onset: first sample of the current run of the condition. Severity: critical
    under 5% or full within an hour; high under `avail_pct` or with the condition; medium
    for the projection alone.
    """

    name = "disk_pressure"
    kind = "Node"
    freshness_query = "time() - max(timestamp(node_filesystem_avail_bytes{%s}))" % FS

    def _recent(self) -> int:
        return max(600, self.duration("window") // 4)

    def _condition(self, sel: str) -> str:
        fs = FS + sel
        avail = AVAIL % fs
        pct = AVAIL_PCT % {"sel": fs}
        horizon = int(float(self.cfg["horizon_h"]) * 3600)
        predictive = ("(predict_linear(%(av)s[%(w)ds], %(h)d) < 0)"
                      " and (predict_linear(%(av)s[%(r)ds], %(h)d) < 0)") % {
                          "av": avail, "w": self.duration("window"), "h": horizon,
                          "r": self._recent()}
        return "(%s < %g) or (%s) or on(node) (%s)" % (
            pct, float(self.cfg["avail_pct"]), predictive, CONDITION % sel)

    def detect(self, now: float) -> List[Signal]:
        query = "topk(%d, %s)" % (MAX_TARGETS, self._condition(""))
        nodes = sorted({s.labels.get("node", "") for s in self.prom.query(query)} - {""})
        if not nodes:
            return []
        sel = "," + selector({}, node=nodes)
        pct = _by_node(self.prom.query(AVAIL_PCT % {"sel": FS + sel}))
        avail = _by_node(self.prom.query(AVAIL % (FS + sel)))
        slope = _by_node(self.prom.query("deriv(%s[%ds])" % (AVAIL % (FS + sel),
                                                             self._recent())))
        condition = set(_by_node(self.prom.query(CONDITION % sel)))
        onsets = self.onsets(self._condition(sel), ["node"], 3600, now)
        writers = self._writers(sel)
        signals = []
        for node in nodes:
            hours: Optional[float] = None
            if node in avail and slope.get(node, 0.0) < 0:
                hours = avail[node] / -slope[node] / 3600
            signal = self._signal(node, pct.get(node), hours, node in condition,
                                  onsets.get((node,)), query, now)
            if node in writers:
                namespace, service, used = writers[node]
                signal.metadata.update(top_writer_service=service,
                                       top_writer_namespace=namespace,
                                       top_writer_gib=round(used / 1024 ** 3, 2))
                signal.summary += "; %s/%s's pods hold %s GiB" % (
                    namespace, service, fmt(used / 1024 ** 3))
            signals.append(signal)
        return signals

    def _writers(self, sel: str) -> Dict[str, tuple]:
        """Per node, the service whose pods use the most local disk (cAdvisor's
        container_fs_usage_bytes, summed per service); a secondary source."""
        out: Dict[str, tuple] = {}
        try:
            samples = self.prom.query(
                'sum by (node, namespace, pod, container) (container_fs_usage_bytes{'
                'container!="",container!="POD"%s})' % sel)
        except Exception as error:  # noqa: BLE001 - enrichment only
            self.degraded.append(("prometheus", "disk writers: %s" % error))
            return out
        totals: Dict[tuple, float] = {}
        for sample in samples:
            labels = sample.labels
            key = (labels.get("node", ""), labels.get("namespace", ""),
                   service_of_pod(labels.get("pod", ""), labels.get("container", "")))
            totals[key] = totals.get(key, 0.0) + sample.value
        for (node, namespace, service), used in totals.items():
            if used > 0 and (node not in out or used > out[node][2]):
                out[node] = (namespace, service, used)
        return out

    def _signal(self, node: str, avail_pct: Optional[float], hours: Optional[float],
                condition: bool, onset: Optional[float], query: str, now: float) -> Signal:
        below = avail_pct is not None and avail_pct < float(self.cfg["avail_pct"])
        if (avail_pct is not None and avail_pct < 5) or (hours is not None and hours < 1):
            severity = "critical"
        elif below or condition:
            severity = "high"
        else:
            severity = "medium"
        summary = "disk pressure on node %s: %s%% free, full in %s h%s" % (
            node, fmt(avail_pct), fmt(hours), ", DiskPressure condition" if condition else "")
        values: Dict[str, float] = {}
        if avail_pct is not None:
            values["avail_pct"] = round(avail_pct, 2)
        return Signal(
            detector=self.name, target=make_target("Node", node, node=node),
            severity=severity, first_detected=onset, detected_at=now, summary=summary,
            evidence={"query": query, "values": values},
            metadata={"avail_pct": rounded(avail_pct, 2), "hours_to_full": rounded(hours, 2),
                      "condition_disk_pressure": condition})


def _by_node(samples) -> Dict[str, float]:
    return {s.labels.get("node", ""): s.value for s in samples}

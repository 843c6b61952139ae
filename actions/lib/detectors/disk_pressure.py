"""disk_pressure: node root filesystem nearly full, filling up, or DiskPressure condition."""
from typing import Dict, List, Optional

from lib.detectors.base import MAX_TARGETS, Detector, fmt, rounded, selector
from lib.signals import Signal, make_target

FS = 'mountpoint="/"'
AVAIL = "node_filesystem_avail_bytes{%s}"
AVAIL_PCT = "(100 * node_filesystem_avail_bytes{%(sel)s} / node_filesystem_size_bytes{%(sel)s})"
CONDITION = 'kube_node_status_condition{condition="DiskPressure",status="true"%s} > 0'
# The projection only counts once the disk is this empty (node-mixin uses 40% too).
PREDICT_BELOW_PCT = 40


class DiskPressureDetector(Detector):
    """Fires on any of: available space of `/` below `avail_pct`; the DiskPressure node
    condition; or, below 40% available, `predict_linear` over `window` projecting the disk
    full within `horizon_h`, with the filling sustained (also falling over the first half of
    the window and over its last quarter). A backup that writes and then frees space does
    not last a whole window, so it never trips the projection. hours_to_full = avail /
    -deriv(avail). Onset: first sample of the current run of the condition. Severity:
    critical under 5% or full within an hour; high under `avail_pct` or with the condition;
    medium for the projection alone.
    """

    name = "disk_pressure"
    kind = "Node"
    freshness_query = "time() - max(timestamp(node_filesystem_avail_bytes{%s}))" % FS

    def _condition(self, sel: str) -> str:
        window = self.duration("window")
        fs = FS + sel
        avail = AVAIL % fs
        pct = AVAIL_PCT % {"sel": fs}
        horizon = float(self.cfg["horizon_h"]) * 3600
        predictive = ("(%(pct)s < %(below)d) and (predict_linear(%(av)s[%(w)ds], %(h)d) < 0)"
                      " and (deriv(%(av)s[%(half)ds] offset %(half)ds) < 0)"
                      " and (deriv(%(av)s[%(q)ds]) < 0)") % {
                          "pct": pct, "below": PREDICT_BELOW_PCT, "av": avail, "w": window,
                          "h": horizon, "half": window // 2, "q": max(300, window // 4)}
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
        slope = _by_node(self.prom.query("deriv(%s[%s])" % (AVAIL % (FS + sel),
                                                            self.cfg["window"])))
        condition = set(_by_node(self.prom.query(CONDITION % sel)))
        onsets = self.onsets(self._condition(sel), ["node"], 3600, now)
        signals = []
        for node in nodes:
            hours: Optional[float] = None
            if node in avail and slope.get(node, 0.0) < 0:
                hours = avail[node] / -slope[node] / 3600
            signals.append(self._signal(node, pct.get(node), hours, node in condition,
                                        onsets.get((node,), now), query, now))
        return signals

    def _signal(self, node: str, avail_pct: Optional[float], hours: Optional[float],
                condition: bool, onset: float, query: str, now: float) -> Signal:
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

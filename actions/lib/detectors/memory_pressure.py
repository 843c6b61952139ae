"""memory_pressure: node memory utilisation above a threshold, with growth and exhaustion."""
from typing import Dict, List, Optional

from lib.detectors.base import Detector, fmt, rounded, selector
from lib.signals import Signal, make_target

UTIL = ("100 * (1 - node_memory_MemAvailable_bytes{%(sel)s}"
        " / node_memory_MemTotal_bytes{%(sel)s})")
GROWTH = ("-100 * 60 * deriv(node_memory_MemAvailable_bytes{%(sel)s}[%(window)s])"
          " / node_memory_MemTotal_bytes{%(sel)s}")


class MemoryPressureDetector(Detector):
    """Node memory utilisation (1 - MemAvailable/MemTotal) above `threshold_pct`.

    Growth (%/min) is `deriv` of MemAvailable over `growth_window`; minutes to exhaustion =
    (100 - utilisation) / growth when growing. Onset: first sample of the current run above
    the threshold. Severity: critical when exhaustion is under 10 minutes away or utilisation
    is at least 97%, otherwise high.
    """

    name = "memory_pressure"
    kind = "Node"
    freshness_query = "time() - max(timestamp(node_memory_MemAvailable_bytes))"

    def detect(self, now: float) -> List[Signal]:
        threshold = float(self.cfg["threshold_pct"])
        query = "topk(%d, %s > %g)" % (50, UTIL % {"sel": ""}, threshold)
        hot = {s.labels.get("node", ""): s.value for s in self.prom.query(query)}
        hot.pop("", None)
        if not hot:
            return []
        sel = selector({}, node=hot)
        growth = {s.labels.get("node", ""): s.value for s in self.prom.query(
            GROWTH % {"sel": sel, "window": self.cfg["growth_window"]})}
        onset_query = "%s > %g" % (UTIL % {"sel": sel}, threshold)
        onsets = self.onsets(onset_query, ["node"], 3600, now)
        signals = []
        for node, util in sorted(hot.items()):
            rate = growth.get(node)
            minutes = (100.0 - util) / rate if rate is not None and rate > 0 else None
            signals.append(self._signal(node, util, rate, minutes, query,
                                        onsets.get((node,)), now))
        return signals

    def _signal(self, node: str, util: float, rate: Optional[float],
                minutes: Optional[float], query: str, onset: Optional[float], now: float) -> Signal:
        critical = util >= 97 or (minutes is not None and minutes < 10)
        summary = "memory pressure on node %s: %s%% (%s%%/min), exhaustion in %s min" % (
            node, fmt(util, 0), ("%+.1f" % rate) if rate is not None else "n/a",
            fmt(minutes))
        values: Dict[str, float] = {"utilization_pct": round(util, 2)}
        if rate is not None:
            values["growth_pct_per_min"] = round(rate, 3)
        return Signal(
            detector=self.name, target=make_target("Node", node, node=node),
            severity="critical" if critical else "high", first_detected=onset,
            detected_at=now, summary=summary, evidence={"query": query, "values": values},
            metadata={"utilization_pct": round(util, 2),
                      "growth_pct_per_min": rounded(rate),
                      "minutes_to_exhaustion": rounded(minutes, 2),
                      "threshold_pct": float(self.cfg["threshold_pct"])})

"""node_not_ready: a node's Ready condition False or Unknown for longer than a grace period."""
from typing import Any, List, Optional, Tuple

from lib import clock
from lib.detectors.base import MAX_TARGETS, Detector, selector
from lib.signals import Signal, make_target

READY = 'kube_node_status_condition{condition="Ready",status="%s"%s}'
NOT_READY = 'kube_node_status_condition{condition="Ready",status=~"false|unknown"%s} > 0'
UNSCHEDULABLE = "kube_node_spec_unschedulable > 0"


class NodeNotReadyDetector(Detector):
    """Ready was not "true" in any sample of the last `grace_s` (PromQL `max_over_time`),
    and the node is not cordoned (a cordoned node going down is maintenance; the node-mixin
    excludes it too). Ready status (False/Unknown) and the time it changed come from the
    node's condition lastTransitionTime via the API, falling back to the condition series.
    Severity: critical once down for four grace periods, otherwise high.
    """

    name = "node_not_ready"
    kind = "Node"
    freshness_query = ('time() - max(timestamp(kube_node_status_condition{condition="Ready",'
                       'status="true"}))')

    def detect(self, now: float) -> List[Signal]:
        grace = int(self.cfg["grace_s"])
        ready = READY % ("true", "")
        if grace > 0:
            down = "max_over_time(%s[%ds]) == 0" % (ready, grace)
        else:
            down = "%s == 0" % ready
        query = "topk(%d, %s unless on(node) (%s))" % (MAX_TARGETS, down, UNSCHEDULABLE)
        nodes = sorted({s.labels.get("node", "") for s in self.prom.query(query)} - {""})
        if not nodes:
            return []
        sel = "," + selector({}, node=nodes)
        statuses = {s.labels.get("node", ""): s.labels.get("status", "")
                    for s in self.prom.query(NOT_READY % sel)}
        fallback = self.onsets("%s == 0" % (READY % ("true", sel)), ["node"], 6 * 3600, now)
        signals = []
        for node in nodes:
            status, since = self._from_api(node)
            status = status or statuses.get(node, "unknown").capitalize()
            if status == "True":
                continue  # recovered since the last sample
            onset = since if since is not None else fallback.get((node,), now - grace)
            down_s = max(0.0, now - onset)
            signals.append(Signal(
                detector=self.name, target=make_target("Node", node, node=node),
                severity="critical" if grace and down_s >= 4 * grace else "high",
                first_detected=onset, detected_at=now,
                summary="node %s not ready (%s) for %d s" % (node, status, down_s),
                evidence={"query": query, "values": {"not_ready_seconds": round(down_s)}},
                metadata={"ready_status": status, "not_ready_seconds": int(down_s)}))
        return signals

    def _from_api(self, node: str) -> Tuple[str, Optional[float]]:
        """(Ready status, epoch of its last transition) from the API, or ("", None)."""
        if self.kube is None:
            return "", None
        obj = self.kube_read(self.kube.core.read_node, node)
        if obj is None:
            return "", None
        for condition in (getattr(obj.status, "conditions", None) or []):
            if condition.type == "Ready":
                return condition.status or "", _epoch(condition.last_transition_time)
        return "", None


def _epoch(value: Any) -> Optional[float]:
    if value is None:
        return None
    if hasattr(value, "timestamp"):
        return value.timestamp()
    try:
        return clock.parse_iso(str(value))
    except ValueError:
        return None

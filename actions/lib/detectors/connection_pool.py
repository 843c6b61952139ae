"""connection_pool: a service's database pool saturated with waiting threads."""
from typing import Dict, List, Tuple

from lib.detectors.base import MAX_TARGETS, SourcedDetector, fmt
from lib.signals import Signal, make_target

# Waiters must persist this long: a single busy moment is not exhaustion.
SUSTAIN = "1m"


class ConnectionPoolDetector(SourcedDetector):
    """Per service, from the configured pool source (lib.metric_presets: HikariCP by
    default): sum(active) / sum(max) >= `utilization` and threads waiting for a connection
    (sum(pending) >= `min_pending`, also as the minimum over the last minute).
    Onset: first sample of the current run of the condition. Severity: high when the pool
    is full (active >= max), otherwise medium.
    """

    name = "connection_pool"
    kind = "Service"

    source_kind = "pool"
    source_field = "max"

    def _condition(self, sel: str) -> str:
        src = self.source
        active = src.total("active", sel)
        size = src.total("max", sel)
        pending = src.total("pending", sel)
        sustained = "sum by(%s) (min_over_time(%s[%s]))" % (
            src.by, src.series("pending", sel), SUSTAIN)
        minimum = int(self.cfg["min_pending"])
        return ("(%s / (%s > 0) >= %g) and on(%s) (%s >= %d) and on(%s) (%s >= %d)" % (
            active, size, float(self.cfg["utilization"]), src.by, pending, minimum, src.by,
            sustained, minimum))

    def detect(self, now: float) -> List[Signal]:
        query = "topk(%d, %s)" % (MAX_TARGETS, self._condition(""))
        found = {self.source.key(s.labels) for s in self.prom.query(query)}
        found.discard(("", ""))
        if not found:
            return []
        sel = self.source.services(k[1] for k in found)
        values: Dict[str, Dict[Tuple[str, str], float]] = {}
        for field in ("active", "max", "pending"):
            values[field] = {self.source.key(s.labels): s.value
                             for s in self.prom.query(self.source.total(field, sel))}
        onsets = self.onsets(self._condition(sel), self.source.labels, 1800, now)
        signals = []
        for key in sorted(found):
            namespace, service = key
            active = values["active"].get(key)
            size = values["max"].get(key)
            pending = values["pending"].get(key, 0.0)
            if active is None or not size:
                continue
            util = active / size * 100
            signals.append(Signal(
                detector=self.name, target=make_target("Service", service, namespace),
                service=service, severity="high" if active >= size else "medium",
                first_detected=onsets.get(key), detected_at=now,
                summary=("connection pool of %s/%s: %d/%d connections in use (%s%%), "
                         "%d waiting" % (namespace, service, active, size, fmt(util, 0),
                                         pending)),
                evidence={"query": query, "values": {"active": active, "max": size,
                                                     "pending": pending}},
                metadata={"active": int(active), "max": int(size), "pending": int(pending),
                          "utilization_pct": round(util, 1)}))
        return signals

"""HorizontalPodAutoscalers (static unless a metric function is given) and Event GC.
"""
import math
from typing import Any, Dict, Optional

from twin.store import NotFound, iso


class AutoscalingControllers:
    """HPA status and scaling; expired Events deleted."""

    # ----------------------------------------------------------------- HPAs
    def reconcile_hpas(self) -> None:
        for hpa in self.store.list("horizontalpodautoscalers", copy=False)[0]:
            md, spec = hpa["metadata"], hpa.get("spec") or {}
            ref = spec.get("scaleTargetRef") or {}
            if ref.get("kind") != "Deployment":
                continue
            try:
                dep = self.store.get("deployments", md["namespace"], ref.get("name", ""))
            except NotFound:
                continue
            current = int((dep.get("spec") or {}).get("replicas", 1))
            desired = current
            util = self.hpa_metric_fn(hpa) if self.hpa_metric_fn else None
            target = _hpa_target(spec)
            if util is not None and target:
                ratio = util / target
                if abs(ratio - 1.0) > 0.1:
                    desired = int(math.ceil(current * ratio))
            desired = max(int(spec.get("minReplicas", 1)),
                          min(int(spec.get("maxReplicas", current)), desired))
            status: Dict[str, Any] = dict(hpa.get("status") or {})
            if desired != current:
                self.store.mutate("deployments", md["namespace"], ref["name"],
                                  lambda o, n=desired: o["spec"].__setitem__("replicas", n))
                status["lastScaleTime"] = iso(self.now_fn())
            status.update({"currentReplicas": current, "desiredReplicas": desired,
                           "observedGeneration": md.get("generation", 1)})
            if util is not None:
                status["currentMetrics"] = [{"type": "Resource", "resource": {
                    "name": "cpu", "current": {"averageUtilization": int(util)}}}]
            if status != (hpa.get("status") or {}):
                self.store.mutate("horizontalpodautoscalers", md["namespace"], md["name"],
                                  lambda o, s=status: o.__setitem__("status", s))

    # ----------------------------------------------------------------- events GC
    def gc_events(self) -> int:
        cutoff = iso(self.now_fn() - self.event_ttl_s)
        old = [e for e in self.store.list("events", copy=False)[0]
               if (e.get("lastTimestamp") or e["metadata"].get("creationTimestamp", "")) < cutoff]
        for e in old:
            try:
                self.store.delete("events", e["metadata"]["namespace"], e["metadata"]["name"])
            except NotFound:
                pass
        return len(old)


def _hpa_target(spec: Dict[str, Any]) -> Optional[float]:
    for m in spec.get("metrics") or []:
        target = ((m.get("resource") or {}).get("target") or {})
        if target.get("averageUtilization"):
            return float(target["averageUtilization"])
    return None

"""Rank the pods on a node by memory working set (Prometheus), with their limits and facts."""
from typing import Any, Dict

from lib import k8s_nodes
from lib import pod_selection as sel
from lib.base_action import SelfHealingAction, require
from lib.prom import PrometheusError

MIB = 1024.0 * 1024.0


class IdentifyTopMemoryPods(SelfHealingAction):
    def execute(self, node: str = "", limit: int = 5):
        require(node, "node")
        pods = [p for p in k8s_nodes.pods_on_node(self.kube, node)
                if p.status is None or p.status.phase not in ("Succeeded", "Failed")]
        usage, source, error = self._usage(node)
        rows = [self._row(pod, usage) for pod in pods]
        if source == "prometheus":
            rows.sort(key=lambda r: (-(r["usage_bytes"] or 0), r["namespace"], r["pod"]))
        else:
            rows.sort(key=lambda r: (-(r["limit_bytes"] or 0), r["namespace"], r["pod"]))
        top = rows[:max(0, limit)]
        return {"node": node, "source": source, "error": error, "pods": top,
                "top_pod": top[0]["pod"] if top else "",
                "top_namespace": top[0]["namespace"] if top else "",
                "top_service": top[0]["service"] if top else "",
                "pod_count": len(rows)}

    def _usage(self, node: str):
        """{(namespace, pod): bytes} from cAdvisor metrics; fall back to pod specs on error."""
        query = ('sum by (namespace, pod) (container_memory_working_set_bytes{node="%s",'
                 'container!="",container!="POD"})' % node)
        prom = self.prom()
        try:
            samples = prom.query(query)
        except PrometheusError as error:
            return {}, "spec", str(error)
        finally:
            prom.close()
        if not samples:
            return {}, "spec", "prometheus has no working-set samples for node %s" % node
        return ({(s.labels.get("namespace", ""), s.labels.get("pod", "")): s.value
                 for s in samples}, "prometheus", "")

    @staticmethod
    def _row(pod: Any, usage: Dict[Any, float]) -> Dict[str, Any]:
        facts = sel.pod_facts(pod)
        limit_bytes = 0
        for container in pod.spec.containers or []:
            limits = (container.resources.limits or {}) if container.resources else {}
            limit_bytes += parse_quantity(limits.get("memory", "0"))
        used = usage.get((facts["namespace"], facts["name"]))
        labels = pod.metadata.labels or {}
        service = labels.get("app") or facts["owner_name"].rsplit("-", 1)[0]
        return {"namespace": facts["namespace"], "pod": facts["name"], "service": service,
                "usage_bytes": used, "usage_mb": round(used / MIB, 1) if used else None,
                "limit_bytes": limit_bytes or None,
                "usage_pct_of_limit": round(100.0 * used / limit_bytes, 1)
                if used and limit_bytes else None,
                "priority_level": facts["priority_level"], "restartable": facts["restartable"],
                "owner_kind": facts["owner_kind"], "owner_name": facts["owner_name"],
                "movable": sel.never_movable_reason(pod) is None}


def parse_quantity(text: Any) -> int:
    """A Kubernetes memory quantity (`4Gi`, `512M`, `1e9`) in bytes."""
    units = {"Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "Ti": 1024 ** 4,
             "k": 1000, "M": 1000 ** 2, "G": 1000 ** 3, "T": 1000 ** 4}
    value = str(text).strip()
    for suffix in sorted(units, key=len, reverse=True):
        if value.endswith(suffix):
            return int(float(value[:-len(suffix)]) * units[suffix])
    try:
        return int(float(value))
    except ValueError:
        return 0


"""Restart a controller-owned pod by evicting it (its controller recreates it; PDBs honoured)."""
from lib import k8s_nodes
from lib import pod_selection as sel
from lib.base_action import SelfHealingAction, mutation_result
from lib.k8s_events import record_event
from lib.kube import KubeError


class RestartPod(SelfHealingAction):
    def execute(self, namespace: str = "", pod: str = "", eviction_attempts: int = 5,
                backoff_s: float = 5.0, incident_id: str = "", dry_run: bool = False):
        self.require_target(namespace, pod=pod)
        try:
            pod_obj = self.kube.call(self.kube.core.read_namespaced_pod, pod, namespace)
        except KubeError as error:
            if error.status != 404:
                raise
            return mutation_result(False, dry_run, "nothing: pod %s/%s is gone" % (
                namespace, pod), namespace=namespace, pod=pod, status="gone")
        reason = sel.never_movable_reason(pod_obj) or k8s_nodes.protected_reason(
            pod_obj, self.settings.protected_namespaces, self.settings.protected_labels)
        if reason is None and not sel.is_restartable(pod_obj):
            reason = "not owned by a controller that would recreate it"
        if reason:
            return False, mutation_result(False, dry_run, "nothing: %s" % reason,
                                          namespace=namespace, pod=pod, status="refused",
                                          error="cannot restart %s/%s: %s" % (
                                              namespace, pod, reason))
        would = "evict pod %s/%s so its %s recreates it" % (namespace, pod,
                                                            sel.owner_kind(pod_obj))
        if dry_run:
            return mutation_result(False, True, would, namespace=namespace, pod=pod,
                                   status="dry_run", node=pod_obj.spec.node_name or "")
        outcome = k8s_nodes.evict_pod(self.kube, namespace, pod, eviction_attempts, backoff_s)
        outcome.pop("pod", None)
        changed = outcome["status"] == "evicted"
        if changed:
            record_event(self.kube, "Pod", namespace, pod, "Restarted",
                         "self-healing restarted pod %s/%s" % (namespace, pod), incident_id)
        result = mutation_result(changed, False, would, namespace=namespace, pod=pod,
                                 node=pod_obj.spec.node_name or "", incident_id=incident_id,
                                 **outcome)
        if outcome["status"] in ("refused", "failed"):
            result["error"] = "eviction of %s/%s %s: %s" % (namespace, pod, outcome["status"],
                                                             outcome.get("error", ""))
            return False, result
        return result

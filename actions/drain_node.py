"""Drain a node: cordon it, evict every movable pod (Eviction API), wait until they are gone.

Like `kubectl drain` without --force, pods no controller would recreate (bare pods) are left
in place by default (criteria `restartable == true`) and reported, so the drain is incomplete.
"""
from lib import k8s_nodes
from lib.base_action import SelfHealingAction, require
from lib.eviction_report import summarise


class DrainNode(SelfHealingAction):
    def execute(self, node: str = "", criteria: str = "restartable == true",
                max_evictions: int = 50,
                timeout_s: float = 300, poll_s: float = 5, eviction_attempts: int = 5,
                backoff_s: float = 5.0, eviction_timeout_s: float = 120.0,
                incident_id: str = "", dry_run: bool = False):
        require(node, "node")
        settings = self.settings
        cordon = k8s_nodes.cordon(self.kube, node, incident_id, dry_run)
        split = k8s_nodes.select_pods(k8s_nodes.pods_on_node(self.kube, node), criteria,
                                      settings.protected_namespaces, settings.protected_labels)
        run = k8s_nodes.evict_selected(self.kube, split["selected"], max_evictions, dry_run,
                                       eviction_attempts, backoff_s,
                                       float(eviction_timeout_s))
        result = summarise(self.kube, node, criteria, split, run, incident_id, dry_run)
        remaining = [] if dry_run else k8s_nodes.wait_pods_gone(
            self.kube, node, result["evicted"], timeout_s, poll_s)
        result["changed"] = (cordon["changed"] or result["changed"]) and not dry_run
        result["cordon"] = cordon
        result["still_running"] = remaining
        result["complete"] = result["complete"] and not remaining
        if dry_run:
            result["would"] = "%s; then %s" % (cordon["would"], result["would"])
        return result

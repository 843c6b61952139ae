"""Evict selected pods from a node through the Eviction API (PodDisruptionBudgets honoured)."""
from typing import List, Optional

from lib import k8s_nodes
from lib.base_action import SelfHealingAction, require
from lib.eviction_report import summarise


class EvictPods(SelfHealingAction):
    def execute(self, node: str = "", criteria: str = "priority < high AND restartable == true",
                max_evictions: int = 5, pods: Optional[List[str]] = None,
                eviction_attempts: int = 5, backoff_s: float = 5.0,
                eviction_timeout_s: float = 120.0, incident_id: str = "",
                dry_run: bool = False):
        require(node, "node")
        settings = self.settings
        pods_now = k8s_nodes.pods_on_node(self.kube, node)
        split = k8s_nodes.select_pods(pods_now, criteria, settings.protected_namespaces,
                                      settings.protected_labels, pods)
        run = k8s_nodes.evict_selected(self.kube, split["selected"], max_evictions, dry_run,
                                       eviction_attempts, backoff_s,
                                       float(eviction_timeout_s))
        return summarise(self.kube, node, criteria, split, run, incident_id, dry_run)


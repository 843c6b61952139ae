"""Cordon a node (mark it unschedulable) and record that the healer did it."""
from lib import k8s_nodes
from lib.base_action import SelfHealingAction, require, result_of
from lib.k8s_events import record_event


class CordonNode(SelfHealingAction):
    def execute(self, node: str = "", incident_id: str = "", dry_run: bool = False):
        require(node, "node")
        result = k8s_nodes.cordon(self.kube, node, incident_id, dry_run)
        if result["changed"]:
            record_event(self.kube, "Node", None, node, "Cordoned",
                         "self-healing cordoned node %s" % node, incident_id)
        return result_of(result, dry_run, incident_id=incident_id)

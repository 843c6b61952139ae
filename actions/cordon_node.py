"""Cordon a node (mark it unschedulable) and record that the healer did it."""
from lib import k8s_nodes
from lib.base_action import SelfHealingAction, require


class CordonNode(SelfHealingAction):
    def execute(self, node: str = "", incident_id: str = "", dry_run: bool = False):
        require(node, "node")
        result = k8s_nodes.cordon(self.kube, node, incident_id, dry_run)
        return self.finish(result, dry_run, ("Node", None, node, "Cordoned",
                                             "self-healing cordoned node %s" % node),
                           incident_id=incident_id)

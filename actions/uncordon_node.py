"""Uncordon a node, only when the healer cordoned it (unless force)."""
from lib import k8s_nodes
from lib.base_action import SelfHealingAction, require


class UncordonNode(SelfHealingAction):
    def execute(self, node: str = "", force: bool = False, incident_id: str = "",
                dry_run: bool = False):
        require(node, "node")
        result = k8s_nodes.uncordon(self.kube, node, force, incident_id, dry_run)
        return self.finish(result, dry_run, ("Node", None, node, "Uncordoned",
                                             "self-healing uncordoned node %s" % node),
                           incident_id=incident_id, force=force)

"""Revision history of a Deployment with times and versions, and whether it changed recently."""
from lib import k8s_workloads
from lib.base_action import SelfHealingAction, require


class CheckRecentDeploys(SelfHealingAction):
    def execute(self, namespace: str = "", deployment: str = "", within_minutes: float = 60):
        require(namespace, "namespace")
        require(deployment, "deployment")
        return k8s_workloads.recent_deploys(self.kube, namespace, deployment,
                                            float(within_minutes))

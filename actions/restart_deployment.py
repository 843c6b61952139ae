"""Rolling restart of a Deployment (`kubectl rollout restart`: template restartedAt)."""
from lib import k8s_workloads
from lib.base_action import SelfHealingAction


class RestartDeployment(SelfHealingAction):
    def execute(self, namespace: str = "", deployment: str = "", incident_id: str = "",
                dry_run: bool = False):
        self.require_target(namespace, deployment=deployment)
        result = k8s_workloads.restart(self.kube, namespace, deployment, incident_id, dry_run)
        return self.finish(result, dry_run, (
            "Deployment", namespace, deployment, "Restarted",
            "self-healing restarted %s (rolling)" % deployment),
            incident_id=incident_id, mechanism="rolling restart")

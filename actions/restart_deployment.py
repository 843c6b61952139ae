"""Rolling restart of a Deployment (`kubectl rollout restart`: template restartedAt)."""
from lib import k8s_workloads
from lib.base_action import SelfHealingAction, result_of
from lib.k8s_events import record_event


class RestartDeployment(SelfHealingAction):
    def execute(self, namespace: str = "", deployment: str = "", incident_id: str = "",
                dry_run: bool = False):
        self.require_target(namespace, deployment=deployment)
        result = k8s_workloads.restart(self.kube, namespace, deployment, incident_id, dry_run)
        if result["changed"]:
            record_event(self.kube, "Deployment", namespace, deployment, "Restarted",
                         "self-healing restarted %s (rolling)" % deployment, incident_id)
        return result_of(result, dry_run, incident_id=incident_id, mechanism="rolling restart")

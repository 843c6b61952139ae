"""Roll a Deployment back to its previous (or a named) revision, as `kubectl rollout undo`."""
from lib import k8s_workloads
from lib.base_action import SelfHealingAction


class RollbackDeployment(SelfHealingAction):
    def execute(self, namespace: str = "", deployment: str = "", to_revision: int = 0,
                incident_id: str = "", dry_run: bool = False):
        self.require_target(namespace, deployment=deployment)
        result = k8s_workloads.rollback(self.kube, namespace, deployment, int(to_revision or 0),
                                        incident_id, dry_run)
        return self.finish(result, dry_run, (
            "Deployment", namespace, deployment, "RolledBack",
            "self-healing rolled %s back from {from_version} to {to_version}" % deployment),
            incident_id=incident_id)

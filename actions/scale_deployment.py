"""Scale a Deployment to `replicas`, or by `delta`, through its scale subresource."""
from typing import Optional

from lib import k8s_workloads
from lib.base_action import ActionInputError, SelfHealingAction


class ScaleDeployment(SelfHealingAction):
    def execute(self, namespace: str = "", deployment: str = "",
                replicas: Optional[int] = None, delta: int = 0, min_replicas: int = 1,
                max_replicas: int = 0, incident_id: str = "", dry_run: bool = False):
        self.require_target(namespace, deployment=deployment)
        if replicas is not None and int(replicas) < 0:
            raise ActionInputError("replicas: must be >= 0")
        result = k8s_workloads.scale(self.kube, namespace, deployment, replicas, delta,
                                     int(min_replicas), int(max_replicas), dry_run)
        return self.finish(result, dry_run, (
            "Deployment", namespace, deployment, "Scaled",
            "self-healing scaled %s from {previous_replicas} to {replicas} replicas" % deployment),
            incident_id=incident_id)

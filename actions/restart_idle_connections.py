"""Release a service's stuck DB connections by a rolling restart of the pods holding them.

Mechanism: connection holders are the service's own pods (Deployment `<service>`); a rolling
restart (restart_deployment semantics) replaces them one by one, so each old pod closes its
pool while the others keep serving.
"""
from lib import k8s_workloads
from lib.base_action import SelfHealingAction


class RestartIdleConnections(SelfHealingAction):
    def execute(self, namespace: str = "", service: str = "", deployment: str = "",
                incident_id: str = "", dry_run: bool = False):
        self.require_target(namespace, service=service)
        target = deployment or service
        result = k8s_workloads.restart(self.kube, namespace, target, incident_id, dry_run)
        return self.finish(result, dry_run, (
            "Deployment", namespace, target, "ConnectionsRecycled",
            "self-healing restarted %s to release idle DB connections" % target),
            incident_id=incident_id, service=service,
            mechanism="rolling restart of the connection holders")

"""Release a service's stuck DB connections by a rolling restart of the pods holding them.

Mechanism: connection holders are the service's own pods (Deployment `<service>`); a rolling
restart (restart_deployment semantics) replaces them one by one, so each old pod closes its
pool while the others keep serving.
"""
from lib import k8s_workloads
from lib.base_action import SelfHealingAction, result_of
from lib.k8s_events import record_event


class RestartIdleConnections(SelfHealingAction):
    def execute(self, namespace: str = "", service: str = "", deployment: str = "",
                incident_id: str = "", dry_run: bool = False):
        self.require_target(namespace, service=service)
        target = deployment or service
        result = k8s_workloads.restart(self.kube, namespace, target, incident_id, dry_run)
        if result["changed"]:
            record_event(self.kube, "Deployment", namespace, target, "ConnectionsRecycled",
                         "self-healing restarted %s to release idle DB connections" % target,
                         incident_id)
        return result_of(result, dry_run, incident_id=incident_id, service=service,
                         mechanism="rolling restart of the connection holders")

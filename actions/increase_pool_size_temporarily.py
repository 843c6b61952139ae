"""Raise a service's DB pool for a while: the ConfigMap and key configured in
`metric_sources.pool_configmap` (default `<service>-db-pool`, key maximumPoolSize).

The original value is kept in an annotation and a revert entry `self_healing.revert.<id>` with
`revert_at` is stored; `revert_expired_changes` (run every minute by a timer rule) restores it.
"""
from lib import clock, k8s_services, metric_presets
from lib.base_action import ActionInputError, SelfHealingAction, result_of
from lib.datastore import target_key
from lib.k8s_events import record_event

REVERT_PREFIX = "revert."
REVERT_GRACE_S = 86400


class IncreasePoolSizeTemporarily(SelfHealingAction):
    def execute(self, namespace: str = "", service: str = "", multiplier: float = 1.5,
                duration_minutes: float = 30, incident_id: str = "", dry_run: bool = False):
        self.require_target(namespace, service=service)
        if float(duration_minutes) <= 0:
            raise ActionInputError("duration_minutes: must be > 0")
        duration_s = float(duration_minutes) * 60.0
        name, key = metric_presets.pool_configmap(self.settings, namespace, service)
        result = k8s_services.raise_pool(self.kube, namespace, service, float(multiplier),
                                         duration_s, incident_id, dry_run, name=name, key=key)
        revert_id = target_key("ConfigMap", namespace, result["configmap"])
        result["revert_key"] = "self_healing." + REVERT_PREFIX + revert_id
        if result["changed"]:
            entry = {"kind": "configmap_key", "namespace": namespace,
                     "name": result["configmap"], "key": result["key"],
                     "original": result["original"], "applied": result["value"],
                     "revert_at": result["revert_at"],
                     "revert_at_epoch": clock.now() + duration_s,
                     "incident_id": incident_id, "service": service,
                     "created_at": clock.isoformat(clock.now())}
            self.datastore().set_json(REVERT_PREFIX + revert_id, entry,
                                      ttl=int(duration_s + REVERT_GRACE_S))
            record_event(self.kube, "ConfigMap", namespace, result["configmap"],
                         "PoolRaised", "self-healing: %s" % result["would"], incident_id)
        return result_of(result, dry_run, service=service, multiplier=float(multiplier),
                         duration_minutes=float(duration_minutes),
                         incident_id=incident_id)

"""Undo temporary changes whose time is up (entries `self_healing.revert.<id>`)."""
from typing import Any, Dict, List

from lib import clock, k8s_services
from lib.base_action import SelfHealingAction, mutation_result
from lib.k8s_events import record_event
from lib.kube import KubeError

REVERT_PREFIX = "self_healing.revert."


class RevertExpiredChanges(SelfHealingAction):
    def execute(self, dry_run: bool = False, include_pending: bool = False):
        store = self.datastore()
        now = clock.now()
        done: List[Dict[str, Any]] = []
        pending: List[str] = []
        errors: List[Any] = []
        for key, entry in sorted(store.list_json(REVERT_PREFIX).items()):
            if not isinstance(entry, dict):
                continue
            due = float(entry.get("revert_at_epoch") or clock.parse_iso(entry["revert_at"]))
            if due > now and not include_pending:
                pending.append(key)
                continue
            try:
                outcome = self._revert(entry, dry_run)
            except KubeError as error:  # keep the entry: the next run tries again
                errors.append({"key": key, "error": str(error)})
                continue
            outcome["key"] = key
            done.append(outcome)
            if not dry_run:
                store.delete(key)
        changed = any(d.get("changed") for d in done)
        would = "; ".join(d["would"] for d in done) or "nothing is due"
        result = mutation_result(changed, dry_run, would, reverted=done, pending=pending,
                                 errors=errors)
        if errors:
            result["error"] = "%d revert(s) failed; they stay queued" % len(errors)
        return result

    def _revert(self, entry: Dict[str, Any], dry_run: bool) -> Dict[str, Any]:
        if entry.get("kind") != "configmap_key":
            return {"changed": False, "status": "unknown_kind",
                    "would": "nothing: unknown revert kind %r" % entry.get("kind")}
        outcome = k8s_services.restore_pool(self.kube, entry["namespace"], entry["name"],
                                            int(entry["original"]), int(entry["applied"]),
                                            dry_run, entry.get("key") or k8s_services.POOL_KEY)
        if outcome["changed"]:
            record_event(self.kube, "ConfigMap", entry["namespace"], entry["name"],
                         "TemporaryChangeReverted", "self-healing: %s" % outcome["would"],
                         entry.get("incident_id") or None)
        outcome.update(namespace=entry["namespace"], name=entry["name"],
                       incident_id=entry.get("incident_id", ""))
        return outcome

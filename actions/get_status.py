"""Mode, kill switch, open incidents and the blast-radius budgets left."""
from typing import Any, Dict, List

from lib import incidents, policy, reports
from lib.base_action import SelfHealingAction
from lib.policy_cluster import KubeClusterReader


class GetStatus(SelfHealingAction):
    """Tests may set `cluster` to a fake reader."""

    cluster = None  # type: Any

    def execute(self) -> Dict[str, Any]:
        store = self.datastore()
        open_incidents = incidents.Incidents(store).open_incidents()
        namespaces = budget_namespaces(store, open_incidents)
        cluster = self.cluster
        if cluster is None:
            try:
                cluster = KubeClusterReader(self.kube)
            except Exception:
                cluster = None
        status = {"mode": self.settings.mode,
                  "max_autonomous_risk": self.settings.max_autonomous_risk,
                  "kill_switch": store.get_json(policy.KILL_SWITCH_KEY, None) or
                  {"engaged": False},
                  "open_incidents": [summary(r) for r in open_incidents],
                  "budgets_left": policy.budgets_left(self.settings, store, namespaces, cluster)}
        status["text"] = reports.status_text(status)
        return status


def summary(record: Dict[str, Any]) -> Dict[str, Any]:
    """The fields of an incident worth listing."""
    return {k: record.get(k) for k in ("id", "status", "severity", "playbook", "created_at",
                                       "affected_services", "root_cause", "false_positive")}


def budget_namespaces(store: Any, open_incidents: List[Dict[str, Any]]) -> List[str]:
    """Namespaces with spent budget units or open incidents."""
    found = set()
    for key in store.list_json(policy.BUDGET_PREFIX):
        parts = key[len(policy.BUDGET_PREFIX):].split(".")
        if len(parts) >= 2:
            found.add(parts[1])
    for record in open_incidents:
        ns = (record.get("playbook_params") or {}).get("namespace")
        if ns:
            found.add(ns)
    return sorted(found)

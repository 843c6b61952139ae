"""The shared policy gate as an action: execute, escalate or deny one remediation step."""
from typing import Any, Dict, Optional

from lib import policy, policy_budget
from lib.base_action import SelfHealingAction
from lib.policy_cluster import KubeClusterReader


class _Unreachable(object):
    """A cluster reader that fails every call (the gate then denies: fail closed)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def target_meta(self, target: Dict[str, Any]) -> Any:
        raise RuntimeError("kubernetes client unavailable: %s" % self.error)

    def nodes(self) -> Any:
        raise RuntimeError("kubernetes client unavailable: %s" % self.error)

    def movable_pods(self, *args: Any) -> int:
        raise RuntimeError("kubernetes client unavailable: %s" % self.error)


class CheckPolicy(SelfHealingAction):
    """Ask the gate; tests may set `cluster` and `events_kube` to fakes."""

    cluster = None  # type: Any
    events_kube = None  # type: Any

    def execute(self, playbook: str = "", step: str = "", risk: str = "",
                target: Optional[Dict[str, Any]] = None, incident_id: str = "",
                dry_run: bool = False, budget: str = "", units: int = 0,
                approved: bool = False, workflow: str = "", action: str = "",
                params: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        cluster, kube = self.cluster, self.events_kube
        if cluster is None or kube is None:
            try:
                real = self.kube
                cluster = cluster or KubeClusterReader(real)
                kube = kube or real
            except Exception as error:  # no kubeconfig, bad context...
                cluster = cluster or _Unreachable(error)
        budget = budget or policy_budget.budget_for(policy.default_budget(str(step or "")),
                                                    action)
        if units == 0:
            units = self.derived_units(cluster, action, params)
        request = policy.Request(playbook, step, risk, target, incident_id, dry_run,
                                 budget or None, units, approved, workflow)
        gate = policy.Gate(self.settings, self.datastore(), cluster, kube)
        return gate.decide(request)

    def derived_units(self, cluster: Any, action: str, params: Optional[Dict[str, Any]]) -> int:
        """Units from the step's action and parameters (units = 0 asks for this)."""
        counter = getattr(cluster, "movable_pods", None)
        settings = self.settings

        def count(node: str, criteria: Optional[str], pods: Any) -> int:
            return counter(node, criteria, pods, settings)
        return policy_budget.derive_units(action, params, count if counter else None)

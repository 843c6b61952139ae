"""The shared policy gate as an action: execute, escalate or deny one remediation step."""
from typing import Any, Dict, Optional

from lib import policy
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


class CheckPolicy(SelfHealingAction):
    """Ask the gate; tests may set `cluster` and `events_kube` to fakes."""

    cluster = None  # type: Any
    events_kube = None  # type: Any

    def execute(self, playbook: str = "", step: str = "", risk: str = "",
                target: Optional[Dict[str, Any]] = None, incident_id: str = "",
                dry_run: bool = False, budget: str = "", units: int = 1,
                approved: bool = False, workflow: str = "") -> Dict[str, Any]:
        cluster, kube = self.cluster, self.events_kube
        if cluster is None or kube is None:
            try:
                real = self.kube
                cluster = cluster or KubeClusterReader(real)
                kube = kube or real
            except Exception as error:  # no kubeconfig, bad context...
                cluster = cluster or _Unreachable(error)
        request = policy.Request(playbook, step, risk, target, incident_id, dry_run,
                                 budget or None, units, approved, workflow)
        gate = policy.Gate(self.settings, self.datastore(), cluster, kube)
        return gate.decide(request)

"""StackStorm action policies: action.concurrency and action.concurrency.attr."""
from typing import Any, Dict, List, Optional

from engine import actions as ex

SUPPORTED = ("action.concurrency", "action.concurrency.attr")


class Policy(object):
    """One policies/*.yaml document."""

    def __init__(self, data: Dict[str, Any]) -> None:
        self.name = data.get("name", "")
        self.ref = "%s.%s" % (data.get("pack", ""), self.name)
        self.enabled = bool(data.get("enabled", True))
        self.resource_ref = data.get("resource_ref", "")
        self.policy_type = data.get("policy_type", "")
        params = data.get("parameters") or {}
        self.threshold = int(params.get("threshold", 1))
        self.action = params.get("action", "delay")
        self.attributes = list(params.get("attributes") or [])


class ConcurrencyPolicies(object):
    """A `before_run` hook for ActionRunner: delay or cancel over-threshold executions."""

    def __init__(self, documents: List[Dict[str, Any]], runner: ex.ActionRunner) -> None:
        self.policies = [Policy(doc) for doc in documents]
        self.unsupported = [p.ref for p in self.policies if p.policy_type not in SUPPORTED]
        self.runner = runner
        self.decisions: List[Dict[str, Any]] = []

    def __call__(self, execution: ex.Execution) -> Optional[str]:
        for policy in self.policies:
            if not policy.enabled or policy.resource_ref != execution.ref:
                continue
            if policy.policy_type not in SUPPORTED:
                continue
            running = [other for other in self.runner.stack
                       if other.ref == execution.ref and other is not execution
                       and self._same(policy, other, execution)]
            if len(running) >= policy.threshold:
                verdict = ex.CANCELED if policy.action == "cancel" else ex.DELAYED
                self.decisions.append({"policy": policy.ref, "execution": execution.id,
                                       "verdict": verdict, "at": self.runner.now(),
                                       "holders": [other.id for other in running]})
                return verdict
        return None

    @staticmethod
    def _same(policy: Policy, one: ex.Execution, other: ex.Execution) -> bool:
        if policy.policy_type == "action.concurrency":
            return True
        return all(one.parameters.get(attr) == other.parameters.get(attr)
                   for attr in policy.attributes)

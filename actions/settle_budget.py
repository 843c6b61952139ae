"""Settle a policy-gate budget reservation to what the step really did (refund the rest)."""
from typing import Any, Dict, Optional

from lib import policy_budget
from lib.base_action import SelfHealingAction


class SettleBudget(SelfHealingAction):
    def execute(self, reservation: str = "", action: str = "",
                result: Optional[Any] = None, failed: bool = False, incident_id: str = "",
                step: str = "") -> Dict[str, Any]:
        return policy_budget.settle(self.datastore(), reservation, action, result, failed,
                                    incident_id, step)

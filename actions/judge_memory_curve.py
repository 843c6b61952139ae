"""Leak or warm-up? Judge a service's memory curves and compare with its previous version."""
from lib import leak_verdict
from lib.base_action import ActionInputError, SelfHealingAction, require


class JudgeMemoryCurve(SelfHealingAction):
    def execute(self, namespace: str = "", container: str = "", previous_rs: str = "",
                lookback_s: float = 7200, step_s: float = 60):
        require(namespace, "namespace")
        require(container, "container")
        if float(lookback_s) <= 0 or float(step_s) <= 0:
            raise ActionInputError("lookback_s and step_s must be > 0")
        prom = self.prom()
        try:
            result = leak_verdict.judge_service(prom, namespace, container, previous_rs or "",
                                                float(lookback_s), float(step_s))
        finally:
            prom.close()
        result.update(namespace=namespace, container=container, previous_rs=previous_rs or "")
        return result

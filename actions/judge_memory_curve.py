"""Leak or warm-up? Judge a service's memory curves and compare with its previous version."""
from lib import clock, leak_verdict
from lib.base_action import ActionInputError, SelfHealingAction, require


class JudgeMemoryCurve(SelfHealingAction):
    def execute(self, namespace: str = "", container: str = "", previous_rs: str = "",
                lookback_s: float = 7200, step_s: float = 60, min_age_s: float = 0,
                fail_if_same_rise: bool = False):
        require(namespace, "namespace")
        require(container, "container")
        if float(lookback_s) <= 0 or float(step_s) <= 0 or float(min_age_s) < 0:
            raise ActionInputError("lookback_s and step_s must be > 0, min_age_s >= 0")
        prom = self.prom()
        try:
            result = leak_verdict.judge_service(prom, namespace, container, previous_rs or "",
                                                float(lookback_s), float(step_s))
            # the current pods must have lived min_age_s before their curve is compared
            waited, budget = 0.0, 2 * float(min_age_s)
            while min(p["age_s"] for p in result["pods"] or [{"age_s": 0.0}]) < \
                    float(min_age_s) and waited < budget:
                clock.sleep(float(step_s))
                waited += float(step_s)
                result = leak_verdict.judge_service(prom, namespace, container,
                                                    previous_rs or "", float(lookback_s),
                                                    float(step_s))
        finally:
            prom.close()
        result.update(namespace=namespace, container=container, previous_rs=previous_rs or "")
        if fail_if_same_rise and result["previous"].get("same_rise"):
            result["error"] = ("the pods of %s grow as %s's did at the same age: the change did "
                               "not help" % (container, previous_rs))
            return False, result
        return result

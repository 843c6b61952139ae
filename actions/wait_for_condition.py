"""Wait until a PromQL condition holds for a duration, e.g. node memory < 70% for 5 minutes."""
from lib import clock, condition_wait, deadline as deadlines
from lib.base_action import ActionInputError, SelfHealingAction, require


class WaitForCondition(SelfHealingAction):
    def execute(self, query: str = "", comparator: str = "<", threshold: float = 0.0,
                hold_s: float = 300, timeout_s: float = 900, poll_s: float = 15,
                max_blind_s: float = 300, description: str = "", deadline: float = 0):
        require(query, "query")
        if comparator not in condition_wait.COMPARATORS:
            raise ActionInputError("comparator: must be one of %s" % ", ".join(
                sorted(condition_wait.COMPARATORS)))
        if float(hold_s) < 0 or float(timeout_s) < 0 or float(poll_s) <= 0 or \
                float(max_blind_s) < 0:
            raise ActionInputError("hold_s/timeout_s/max_blind_s must be >= 0 and poll_s > 0")
        # an incident deadline caps the wait (never below the hold while budget remains)
        timeout_s = deadlines.capped_timeout(float(timeout_s), deadline, clock.now(),
                                             float(hold_s))
        prom = self.prom()
        try:
            result = condition_wait.wait(prom.query, query, comparator, float(threshold),
                                         float(hold_s), float(timeout_s), float(poll_s),
                                         float(max_blind_s))
        finally:
            prom.close()
        result.update(query=query, comparator=comparator, threshold=float(threshold),
                      hold_s=float(hold_s), timeout_s=float(timeout_s),
                      description=description or "%s %s %s for %ss" % (
                          query, comparator, threshold, hold_s))
        if result["blind"]:
            result["error"] = "cannot verify %s: Prometheus has not answered for %ss (%s); " \
                "stopped before the %ss timeout" % (result["description"], max_blind_s,
                                                   result["last_error"], timeout_s)
            return False, result
        if not result["met"]:
            result["error"] = "condition not met within %ss: %s (last value %s%s)" % (
                timeout_s, result["description"], result["value"],
                ", " + result["last_error"] if result["last_error"] else "")
            return False, result
        return result

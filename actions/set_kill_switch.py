"""Pause or resume autonomous remediation (the gate denies every step while engaged)."""
from typing import Any, Dict

from lib import approvals, audit, clock, policy
from lib.base_action import SelfHealingAction


class SetKillSwitch(SelfHealingAction):
    def execute(self, engaged: bool = True, reason: str = "", by: str = "",
                requester: str = "") -> Dict[str, Any]:
        store = self.datastore()
        who = approvals.actor(requester, by)
        state = {"engaged": bool(engaged), "reason": reason, "by": who,
                 "at": clock.isoformat(clock.now())}
        store.set_json(policy.KILL_SWITCH_KEY, state)
        audit.append(store, {"type": "kill_switch", "engaged": state["engaged"],
                             "reason": reason, "by": who})
        if state["engaged"]:
            text = ":octagonal_sign: Self-healing *paused* by *%s*%s. Nothing will be changed " \
                   "until it is resumed." % (who or "an unknown user",
                                             ": %s" % reason if reason else "")
        else:
            text = ":large_green_circle: Self-healing *resumed* by *%s* (mode `%s`)." % (
                who or "an unknown user", self.settings.mode)
        state["text"] = text
        return state

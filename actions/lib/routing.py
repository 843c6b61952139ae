"""Where a cause playbook's run goes after diagnosis: on with its own plan, stop, or hand over.

`route(diagnosis, playbook, handed_over)` is what each cause playbook's opening decides from
the result of `self_healing.diagnose` (pure, no I/O):

- `self`: this playbook plans for the incident (it was handed the incident, or a joined
  signal refined the root cause to this very playbook, or the diagnosis names no other one);
- `joined`: the incident is handled already (it was handed over once, the refined root's
  playbook ran for it, or the signal merely joined an open incident): stop;
- `handover`: another cause playbook owns the root cause (the refined root's, or the one the
  diagnosis names): hand the incident over to `next_playbook`.

Hand-over targets are the catalogue's playbooks except the symptom playbooks (latency_anomaly,
error_rate): a cause is never handed back to a symptom.
"""
from typing import Any, Dict, FrozenSet, Mapping, Tuple

from lib import catalogue

SELF = "self"
JOINED = "joined"
HANDOVER = "handover"


def handover_targets() -> FrozenSet[str]:
    """Playbooks a run may hand an incident over to: every catalogue playbook that is not a
    symptom detector's."""
    symptoms = {d.playbook for d in catalogue.DETECTORS if d.symptom}
    return frozenset(name for name in catalogue.PLAYBOOK_NAMES if name not in symptoms)


def playbook_name(value: Any) -> str:
    """A diagnosis' playbook as an action name (`pod-crash-loop` -> `pod_crash_loop`)."""
    return str(value or "").replace("-", "_")


def route(diagnosis: Mapping[str, Any], playbook: str, handed_over: bool) -> Tuple[str, str]:
    """(route, next_playbook) for `playbook`'s run given the diagnose result."""
    targets = handover_targets()
    joined = bool(diagnosis.get("joined", False))
    refined = bool(diagnosis.get("refined", False))
    refined_playbook = str(diagnosis.get("refined_playbook") or "")
    named = playbook_name(diagnosis.get("playbook"))
    next_playbook = refined_playbook if joined and refined else named
    if handed_over:
        return SELF, next_playbook
    if joined and refined and refined_playbook == playbook:
        return SELF, next_playbook
    if len(diagnosis.get("handovers") or []) > 0 or (
            refined and refined_playbook in (diagnosis.get("playbooks_ran") or [])):
        return JOINED, next_playbook
    if joined and refined and refined_playbook in targets:
        return HANDOVER, next_playbook
    if joined:
        return JOINED, next_playbook
    if named in targets and named != playbook:
        return HANDOVER, next_playbook
    return SELF, next_playbook


def routed(diagnosis: Mapping[str, Any], playbook: str, handed_over: bool) -> Dict[str, str]:
    """The `route` and `next_playbook` fields diagnose adds to its result; both empty when no
    playbook asked (the symptom playbooks route by themselves)."""
    if not playbook:
        return {"route": "", "next_playbook": ""}
    where, next_playbook = route(diagnosis, playbook, handed_over)
    return {"route": where, "next_playbook": next_playbook}

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
error_rate): a cause is never handed back to a symptom. The symptom playbooks route by
`symptom_route` (their one hand-over goes to a cause detector's playbook).
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


def cause_playbooks() -> FrozenSet[str]:
    """The playbooks of the cause detectors: where a symptom hands its incident over."""
    return frozenset(d.playbook for d in catalogue.DETECTORS if not d.symptom)


def symptom_playbooks() -> FrozenSet[str]:
    return frozenset(d.playbook for d in catalogue.DETECTORS if d.symptom)


def symptom_route(diagnosis: Mapping[str, Any], handed_over: bool) -> Tuple[str, str]:
    """(route, next_playbook) for a symptom playbook's run (service_symptom).

    `joined`: the incident is handled already (its one hand-over is spent, or the signal
    joined it without refining its root to a cause); `handover`: a joined signal refined the
    root to a cause playbook, `next_playbook`; `self`: this run acts (cascade protection
    first when its workflow sees a cascade), then hands over to `next_playbook` when that is
    not empty (the cause playbook the diagnosis names, at most once per incident).
    """
    causes = cause_playbooks()
    joined = bool(diagnosis.get("joined", False))
    refined = bool(diagnosis.get("refined", False))
    refined_playbook = str(diagnosis.get("refined_playbook") or "")
    named = playbook_name(diagnosis.get("playbook"))
    spent = not handed_over and (len(diagnosis.get("handovers") or []) > 0
                                 or named in (diagnosis.get("playbooks_ran") or []))
    if spent and (joined or refined):
        return JOINED, ""
    if joined and not handed_over:
        if refined and refined_playbook in causes:
            return HANDOVER, refined_playbook
        return JOINED, ""
    if named in causes and not handed_over and not spent:
        return SELF, named
    return SELF, ""


def watch_first(diagnosis: Mapping[str, Any], playbook: str, handed_over: bool) -> bool:
    """Whether a symptom playbook's run watches its symptom before acting (lib.symptom_watch):
    it acts itself (route `self`), has no cause playbook to hand over to and no deploy of
    the service before the onset to roll back, and opened the incident from a fresh signal.
    Nothing then explains the symptom, so it must last its full persistence first."""
    if playbook not in symptom_playbooks() or handed_over:
        return False
    where, next_playbook = symptom_route(diagnosis, handed_over)
    params = diagnosis.get("playbook_params") or {}
    return where == SELF and not next_playbook and not params.get("recent_deploy")


def routed(diagnosis: Mapping[str, Any], playbook: str, handed_over: bool) -> Dict[str, str]:
    """The `route` and `next_playbook` fields diagnose adds to its result for the calling
    playbook (a symptom playbook's by symptom_route); both empty when no playbook asked."""
    if not playbook:
        return {"route": "", "next_playbook": ""}
    if playbook in symptom_playbooks():
        where, next_playbook = symptom_route(diagnosis, handed_over)
    else:
        where, next_playbook = route(diagnosis, playbook, handed_over)
    return {"route": where, "next_playbook": next_playbook}

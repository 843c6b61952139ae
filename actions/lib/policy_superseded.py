"""Is a plan superseded? A step planned by a playbook that no longer owns its incident.

Diagnosis may refine an open incident while a playbook still runs its plan (a second signal
reveals a deeper root cause): `diagnosis.merge_joined` then moves the record's `playbook` to
the refined root's playbook and appends the one it replaces to `playbook_history`. A step of
the replaced playbook's run was planned on a diagnosis that is no longer the incident's.

`superseded(record, playbook)` names the new owner (or None) for a mutating, non-restoring
step of `playbook`. It stays silent when:
- the record names no owner, or `playbook` is the owner;
- `playbook` is a sub-playbook no detector starts (cascade_protection): it runs on behalf of
  whichever playbook owns the incident;
- the owner is a symptom playbook (latency_anomaly, error_rate): a cause is never handed
  back to a symptom, and a symptom's own run re-diagnoses and decides;
- `playbook` never owned the incident and lost it (it is not in `playbook_history`): it was
  handed the incident, or plans for one diagnosis rooted elsewhere, knowingly;
- `playbook` is a symptom playbook and the owner already ran for the incident with no
  hand-over: the symptom's workflow stays the owner and plans for the refined root.
"""
from typing import Any, Dict, FrozenSet, List, Optional

from lib import catalogue

UNKNOWN_OWNER = "owner of incident %s unknown (%s): superseded plans not checked"


def sub_playbooks() -> FrozenSet[str]:
    """Playbooks no detector starts: a symptom playbook runs them for its incident."""
    started = {d.playbook for d in catalogue.DETECTORS}
    return frozenset(p for p in catalogue.PLAYBOOK_NAMES if p not in started)


def symptom_playbooks() -> FrozenSet[str]:
    """Playbooks of the service symptom detectors."""
    return frozenset(d.playbook for d in catalogue.DETECTORS if d.symptom)


def _name(value: Any) -> str:
    return str(value or "").strip().replace("-", "_")


def former_owners(record: Dict[str, Any]) -> List[str]:
    """Playbooks a refinement took the incident from, oldest first (`playbook_history`)."""
    return [_name(p) for p in record.get("playbook_history") or [] if _name(p)]


def superseded(record: Dict[str, Any], playbook: str) -> Optional[str]:
    """The playbook that now owns the incident instead of `playbook`, or None."""
    owner = _name(record.get("playbook"))
    playbook = _name(playbook)
    if not owner or owner == playbook or playbook in sub_playbooks():
        return None
    symptoms = symptom_playbooks()
    if owner in symptoms:
        return None
    history = former_owners(record)
    if playbook not in history:
        return None
    if playbook in symptoms and not record.get("handovers"):
        trigger = _name(catalogue.PLAYBOOK_BY_DETECTOR.get(
            (record.get("trigger") or {}).get("detector") or "", ""))
        if owner in history or owner == trigger:
            return None
    return owner


def reason(record: Dict[str, Any], incident_id: str, owner: str) -> str:
    """The deny reason: who owns the incident now, and why."""
    root = record.get("root_cause") or {}
    cause = root.get("summary") or root.get("detector") or "a new root cause"
    return ("incident %s now belongs to playbook %s (root cause refined to %s): this plan's "
            "step is not run" % (incident_id, owner, cause))

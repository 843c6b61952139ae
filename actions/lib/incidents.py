"""Incident records in the datastore: lifecycle, timeline, actions, and their rendering.

Timeline entries are structured records (docs/design.md, "Incident records"): besides `at`,
`type` and the human-readable `message`, every entry the pack writes carries a `kind` (one of
ENTRY_KINDS) and, where they apply, `step`, `action` (the action ref), `playbook`, `target`,
`targets` (more than one), `outcome`, `dry_run`, `failed`, `left_in_place` (targets a human
must finish) and `cause`.
Readers use those fields only; the message is presentation.

Records stored by an older pack version have entries without `kind`: readers treat such an
entry as of kind "unknown" (never a real change, a hand-over or an approval) rather than read
its prose, and a record without `handovers` has had none that is known.
"""
import hashlib
from typing import Any, Dict, List, Optional

from lib import audit, clock

INCIDENT_PREFIX = "self_healing.incident."
STATUSES = ("open", "remediating", "verifying", "resolved", "escalated", "failed")
ACTIVE = ("open", "remediating", "verifying", "escalated")
TERMINAL = ("resolved", "failed")
TRANSITIONS = {
    "open": ("remediating", "escalated", "resolved", "failed"),
    "remediating": ("verifying", "escalated", "resolved", "failed"),
    "verifying": ("resolved", "failed", "escalated", "remediating"),
    "escalated": ("remediating", "resolved", "failed"),
    "resolved": (),
    "failed": (),
}
ENTRY_TYPES = ("DETECT", "DIAGNOSE", "PLAN", "EXECUTE", "NOTIFY", "VERIFY", "TASK", "ESCALATE",
               "ROLLBACK", "DENY")
# what an entry records, independently of its type (the section it is shown under):
# detect/diagnosis: what was seen and concluded; plan: the plan (or a note about planning);
# handover: the incident passed to `playbook`; hold: waiting before acting; step: a plan step
# run (outcome executed/dry_run/failed); undo: a step's change reverted (outcome undone,
# refused, failed); approval_request / approval (outcome approved, denied, expired) / page;
# denial: a step skipped by the policy gate; escalation: a human must decide; task;
# note: anything else
ENTRY_KINDS = ("detect", "diagnosis", "plan", "handover", "hold", "step", "undo",
               "approval_request", "approval", "page", "denial", "escalation", "task", "note")
UNKNOWN = "unknown"
DEFAULT_TTL_S = 2592000
# every incident must end (resolved / failed / escalated) within this many seconds of its
# creation, plus the holds of the verifications it started; wait timeouts are capped by it
END_BUDGET_S = 600.0


class IncidentError(ValueError):
    """Unknown incident, illegal transition or bad timeline entry."""


def key_of(incident_id: str) -> str:
    return INCIDENT_PREFIX + incident_id


def new_id(detected_epoch: float, seed: str) -> str:
    """`inc-YYYYMMDD-HHMMSS-xxxx`: detection time plus 4 hex digits of the root signal id."""
    stamp = clock.isoformat(detected_epoch)
    digest = hashlib.sha1(seed.encode("utf-8")).hexdigest()[:4]
    return "inc-%s-%s-%s" % (stamp[:10].replace("-", ""), stamp[11:19].replace(":", ""), digest)


def new_record(incident_id: str, **fields: Any) -> Dict[str, Any]:
    """A fresh `open` incident record with every field of the design contract."""
    now = clock.isoformat(clock.now())
    record = {"id": incident_id, "status": "open", "created_at": now, "updated_at": now,
              "root_cause": {}, "signals": [], "affected_services": [], "severity": "low",
              "confidence": 0.0, "reasoning": [], "playbook": "", "playbook_params": {},
              "plan": [], "actions": [], "false_positive": False, "onset": now,
              "detected_at": now, "remediated_at": None, "verified_at": None,
              "escalated": False, "resolved_at": None, "timeline": [], "tasks": [],
              "decisions": []}
    record.update(fields)
    return record


class Incidents(object):
    """Reads and writes incident records through a `lib.datastore.Datastore`."""

    def __init__(self, store: Any, ttl_s: int = DEFAULT_TTL_S) -> None:
        self.store = store
        self.ttl_s = ttl_s

    def get(self, incident_id: str) -> Dict[str, Any]:
        record = self.store.get_json(key_of(incident_id), None)
        if not record:
            raise IncidentError("unknown incident %r" % incident_id)
        return record

    def find(self, incident_id: str) -> Optional[Dict[str, Any]]:
        return self.store.get_json(key_of(incident_id), None)

    def save(self, record: Dict[str, Any]) -> Dict[str, Any]:
        record["updated_at"] = clock.isoformat(clock.now())
        self.store.set_json(key_of(record["id"]), record, self.ttl_s)
        return record

    def create(self, record: Dict[str, Any]) -> Dict[str, Any]:
        if self.find(record["id"]):
            raise IncidentError("incident %s already exists" % record["id"])
        return self.save(record)

    def all(self) -> List[Dict[str, Any]]:
        """Every stored incident, oldest first."""
        found = [v for _k, v in audit.store_items(self.store, INCIDENT_PREFIX)
                 if isinstance(v, dict) and v.get("id")]
        return sorted(found, key=lambda r: (r.get("created_at") or "", r["id"]))

    def open_incidents(self) -> List[Dict[str, Any]]:
        return [r for r in self.all() if r.get("status") in ACTIVE]

    def add_entry(self, incident_id: str, entry_type: str, message: str,
                  at: Optional[str] = None, **extra: Any) -> Dict[str, Any]:
        record = self.get(incident_id)
        append_entry(record, entry_type, message, at, **extra)
        return self.save(record)

    def transition(self, incident_id: str, status: str, reason: str = "") -> Dict[str, Any]:
        record = self.get(incident_id)
        apply_transition(record, status, reason)
        return self.save(record)


def append_entry(record: Dict[str, Any], entry_type: str, message: str,
                 at: Optional[str] = None, kind: str = "note", dry_run: bool = False,
                 failed: bool = False, **extra: Any) -> Dict[str, Any]:
    """Add one timeline entry (virtual time unless `at` is given) with its typed fields.

    `extra` holds the optional fields (step, action, playbook, target, outcome,
    left_in_place, cause; empty ones are left out). A `handover` entry also appends to the
    record's `handovers`; an `approval_request` sets its `pending_approval`, which an
    `approval` clears together with the pending Inquiry id.
    """
    entry_type = (entry_type or "").upper()
    if entry_type not in ENTRY_TYPES:
        raise IncidentError("unknown timeline entry type %r (one of %s)" % (
            entry_type, ", ".join(ENTRY_TYPES)))
    kind = kind or "note"
    if kind not in ENTRY_KINDS:
        raise IncidentError("unknown timeline entry kind %r (one of %s)" % (
            kind, ", ".join(ENTRY_KINDS)))
    if kind == "handover" and not extra.get("playbook"):
        raise IncidentError("a handover entry names the playbook it hands over to")
    if at:
        clock.parse_iso(at)
    entry = {"at": at or clock.isoformat(clock.now()), "type": entry_type,
             "message": str(message), "kind": kind, "dry_run": bool(dry_run),
             "failed": bool(failed)}
    entry.update({k: v for k, v in extra.items() if v not in (None, "", {}, [])})
    record.setdefault("timeline", []).append(entry)
    if entry_type == "ESCALATE":
        record["escalated"] = True
    if kind == "handover":
        record.setdefault("handovers", []).append(
            {"playbook": entry["playbook"], "at": entry["at"]})
    elif kind == "approval_request":
        record["pending_approval"] = {"step": entry.get("step", ""), "at": entry["at"]}
    elif kind == "approval":
        record.pop("pending_approval", None)
        record.pop("inquiry_id", None)
    return entry


def entry_kind(entry: Dict[str, Any]) -> str:
    """The entry's kind; "unknown" for an entry written before entries had kinds."""
    kind = entry.get("kind") if isinstance(entry, dict) else None
    return kind if kind in ENTRY_KINDS else UNKNOWN


def is_real(entry: Dict[str, Any]) -> bool:
    """True for a known entry that is neither a dry run nor a failure (an entry of unknown
    kind is not known to be real)."""
    return entry_kind(entry) != UNKNOWN and not entry.get("dry_run") and \
        not entry.get("failed")


def entries(record: Dict[str, Any], kind: Optional[str] = None,
            entry_type: Optional[str] = None, real_only: bool = False) -> List[Dict[str, Any]]:
    """Timeline entries of a kind and/or type (only real ones if asked), in recorded order."""
    return [e for e in record.get("timeline") or [] if isinstance(e, dict)
            and (kind is None or entry_kind(e) == kind)
            and (entry_type is None or e.get("type") == entry_type)
            and (not real_only or is_real(e))]


def entry_targets(entry: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The targets an entry is about: its `target` and its `targets` (one entry may record the
    same step on several targets)."""
    if entry_kind(entry) == UNKNOWN:
        return []
    found = [entry["target"]] if isinstance(entry.get("target"), dict) else []
    found.extend(t for t in entry.get("targets") or [] if isinstance(t, dict))
    return found


def names_of(target: Dict[str, Any]) -> List[str]:
    """The names a target is known by (its name, and its node for node-bound targets)."""
    return [str(target[k]) for k in ("name", "node") if target.get(k)]


def handovers(record: Dict[str, Any]) -> List[str]:
    """Playbooks the incident was handed over to so far, in order (its `handovers` field)."""
    return [str(h.get("playbook")) for h in record.get("handovers") or []
            if isinstance(h, dict) and h.get("playbook")]


def left_in_place(record: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Targets the incident's entries say were left for a human to finish."""
    found = []  # type: List[Dict[str, Any]]
    for entry in record.get("timeline") or []:
        if entry_kind(entry) == UNKNOWN:
            continue
        found.extend(t for t in entry.get("left_in_place") or [] if isinstance(t, dict))
    return found


def apply_transition(record: Dict[str, Any], status: str, reason: str = "") -> None:
    """Move to `status` (same status = no-op); stamp remediated/verified/resolved times."""
    current = record.get("status", "open")
    if status not in STATUSES:
        raise IncidentError("unknown status %r (one of %s)" % (status, ", ".join(STATUSES)))
    if status == current:
        return
    if status not in TRANSITIONS[current]:
        raise IncidentError("illegal transition %s -> %s for %s (allowed: %s)" % (
            current, status, record.get("id"), ", ".join(TRANSITIONS[current]) or "none"))
    now = clock.isoformat(clock.now())
    if status == "verifying" or (status == "resolved" and current == "remediating"):
        record["remediated_at"] = record.get("remediated_at") or now
    if status == "resolved":
        record["remediated_at"] = record.get("remediated_at") or remediation_time(record)
        if record.get("remediated_at"):
            record["verified_at"] = record.get("verified_at") or last_entry_at(
                record, "VERIFY") or now
        record["resolved_at"] = now
    if status == "escalated":
        record["escalated"] = True
    if status == "failed":
        record["resolved_at"] = now
    record.setdefault("status_history", []).append(
        {"at": now, "from": current, "to": status, "reason": reason})
    record["status"] = status


def last_entry_at(record: Dict[str, Any], entry_type: str,
                  real_only: bool = False) -> Optional[str]:
    """Time of the last timeline entry of a type (only real ones, see `is_real`, if asked)."""
    for entry in reversed(record.get("timeline") or []):
        if entry.get("type") != entry_type:
            continue
        if real_only and not is_real(entry):
            continue
        return entry.get("at")
    return None


def remediation_time(record: Dict[str, Any]) -> Optional[str]:
    """Time of the last real EXECUTE before the first VERIFY (else the last real EXECUTE)."""
    timeline = record.get("timeline") or []
    first_verify = next((i for i, e in enumerate(timeline) if e.get("type") == "VERIFY"),
                        len(timeline))
    before = {"timeline": timeline[:first_verify]}
    return last_entry_at(before, "EXECUTE", real_only=True) or \
        last_entry_at(record, "EXECUTE", real_only=True)


def hms(iso: str) -> str:
    """`2026-11-28T03:17:22Z` -> `03:17:22`."""
    return clock.isoformat(clock.parse_iso(iso))[11:19]


def render_timeline(record: Dict[str, Any]) -> List[str]:
    """Timeline lines in the seed's form: `03:17:22 DETECT: ...` (in recorded order)."""
    return ["%s %s: %s" % (hms(e["at"]), e["type"], e["message"])
            for e in record.get("timeline") or []]


def seconds_between(start: Optional[str], end: Optional[str]) -> Optional[float]:
    if not start or not end:
        return None
    return clock.parse_iso(end) - clock.parse_iso(start)


def time_to_detect(record: Dict[str, Any]) -> Optional[float]:
    """Seconds from onset to detection."""
    return seconds_between(record.get("onset"), record.get("detected_at"))


def time_to_remediate(record: Dict[str, Any]) -> Optional[float]:
    """Seconds from detection to verified recovery (or, failing that, to remediation)."""
    end = record.get("verified_at") or record.get("remediated_at")
    return seconds_between(record.get("detected_at"), end)


def duration_text(seconds: Optional[float], columns: bool = False) -> str:
    """`279` -> `4 min 39 s`; None -> `n/a`. `columns`: minutes and two-digit seconds at any
    length (`4 min 05 s`, `75 min 00 s`), for reports printed in aligned columns."""
    if seconds is None:
        return "n/a"
    seconds = int(round(seconds))
    if seconds < 60:
        return "%d s" % seconds
    if columns:
        return "%d min %02d s" % divmod(seconds, 60)
    if seconds < 3600:
        return "%d min %d s" % (seconds // 60, seconds % 60)
    return "%d h %d min" % (seconds // 3600, (seconds % 3600) // 60)

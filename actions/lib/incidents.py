"""Incident records in the datastore: lifecycle, timeline, actions, and their rendering."""
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
DEFAULT_TTL_S = 2592000


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
                 at: Optional[str] = None, **extra: Any) -> Dict[str, Any]:
    """Add one timeline entry (virtual time unless `at` is given)."""
    entry_type = (entry_type or "").upper()
    if entry_type not in ENTRY_TYPES:
        raise IncidentError("unknown timeline entry type %r (one of %s)" % (
            entry_type, ", ".join(ENTRY_TYPES)))
    if at:
        clock.parse_iso(at)
    entry = {"at": at or clock.isoformat(clock.now()), "type": entry_type,
             "message": str(message)}
    entry.update({k: v for k, v in extra.items() if v not in (None, "", {})})
    record.setdefault("timeline", []).append(entry)
    if entry_type == "ESCALATE":
        record["escalated"] = True
    return entry


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
    """Time of the last timeline entry of a type (skipping dry runs and failures if asked)."""
    for entry in reversed(record.get("timeline") or []):
        if entry.get("type") != entry_type:
            continue
        text = entry.get("message") or ""
        if real_only and ("[dry run]" in text or "FAILED" in text):
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


def duration_text(seconds: Optional[float]) -> str:
    """`279` -> `4 min 39 s`; None -> `n/a`."""
    if seconds is None:
        return "n/a"
    seconds = int(round(seconds))
    if seconds < 60:
        return "%d s" % seconds
    if seconds < 3600:
        return "%d min %d s" % (seconds // 60, seconds % 60)
    return "%d h %d min" % (seconds // 3600, (seconds % 3600) // 60)

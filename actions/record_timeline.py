"""Append one timestamped entry, with its typed fields, to an incident's timeline; return the
incident's wait deadline and the Inquiry TTL capped by it."""
from typing import Any, Dict, List, Optional

from lib import clock, incidents
from lib import deadline as deadlines
from lib.base_action import ActionInputError, SelfHealingAction


class RecordTimeline(SelfHealingAction):
    def execute(self, incident_id: str = "", type: str = "", message: str = "",
                at: str = "", action: Optional[Dict[str, Any]] = None,
                plan: Optional[List[Any]] = None, inquiry_id: str = "", kind: str = "note",
                step: str = "", action_ref: str = "", playbook: str = "",
                target: Optional[Dict[str, Any]] = None, outcome: str = "",
                was_dry_run: bool = False, failed: bool = False,
                left_in_place: Optional[List[Any]] = None, cause: str = "",
                inquiry_ttl_minutes: int = 0, holds_s: float = 0,
                deadline: float = 0) -> Dict[str, Any]:
        book = incidents.Incidents(self.datastore(), int(self.settings.incident_ttl_s))
        if target is not None and not isinstance(target, dict):
            raise ActionInputError("target: must be an object ({kind, namespace, name, node})")
        kept = [t for t in left_in_place or [] if isinstance(t, dict)]
        if len(kept) != len(left_in_place or []):
            raise ActionInputError("left_in_place: must be a list of target objects")
        ref = action_ref or str((action or {}).get("action") or "")
        try:
            record = book.get(incident_id)
            entry = incidents.append_entry(
                record, type, message, at or None, kind=kind, dry_run=bool(was_dry_run),
                failed=bool(failed), step=step or str((action or {}).get("step") or ""),
                action=ref, playbook=playbook, target=_target(target or (action or {}).get(
                    "target")), outcome=outcome, left_in_place=[t for t in map(_target, kept) if t],
                cause=cause)
        except incidents.IncidentError as error:
            raise ActionInputError(str(error)) from None
        except ValueError:
            raise ActionInputError("at: not an ISO 8601 time: %r" % at) from None
        if action:
            item = dict(action)
            item.setdefault("at", entry["at"])
            record.setdefault("actions", []).append(item)
        if plan:
            record["plan"] = list(plan)
        if inquiry_id:
            record["inquiry_id"] = inquiry_id
        book.save(record)
        deadline = float(deadline or 0) or _deadline(record, float(holds_s or 0))
        ttl = deadlines.capped_ttl_minutes(int(inquiry_ttl_minutes), deadline, clock.now()) \
            if int(inquiry_ttl_minutes or 0) > 0 else 0
        line = "%s %s: %s" % (clock.isoformat(clock.parse_iso(entry["at"]))[11:19],
                              entry["type"], entry["message"])
        return {"incident_id": incident_id, "line": line, "entry": entry,
                "status": record.get("status", ""), "deadline": deadline,
                "inquiry_ttl_minutes": ttl}


def _deadline(record: Dict[str, Any], holds_s: float) -> float:
    """The incident's wait deadline (epoch s) from its created_at; 0 when it has none."""
    try:
        created = clock.parse_iso(str(record.get("created_at") or ""))
    except ValueError:
        return 0.0
    return deadlines.wait_deadline(created, holds_s)


def _target(value: Any) -> Dict[str, str]:
    """The four target fields of a target object ({} when there is none)."""
    if not isinstance(value, dict) or not any(value.get(k) for k in ("kind", "name", "node")):
        return {}
    return {k: str(value.get(k) or "") for k in ("kind", "namespace", "name", "node")}

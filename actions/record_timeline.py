"""Append one timestamped entry to an incident's timeline."""
from typing import Any, Dict, List, Optional

from lib import clock, incidents
from lib.base_action import ActionInputError, SelfHealingAction


class RecordTimeline(SelfHealingAction):
    def execute(self, incident_id: str = "", type: str = "", message: str = "",
                at: str = "", action: Optional[Dict[str, Any]] = None,
                plan: Optional[List[Any]] = None, inquiry_id: str = "") -> Dict[str, Any]:
        book = incidents.Incidents(self.datastore(), int(self.settings.incident_ttl_s))
        try:
            record = book.get(incident_id)
            entry = incidents.append_entry(record, type, message, at or None)
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
        elif entry["type"] == "ESCALATE" and message.startswith(("approved", "plan denied",
                                                                 "plan expired")):
            record.pop("inquiry_id", None)
        book.save(record)
        line = "%s %s: %s" % (clock.isoformat(clock.parse_iso(entry["at"]))[11:19],
                              entry["type"], entry["message"])
        return {"incident_id": incident_id, "line": line, "entry": entry,
                "status": record.get("status", "")}

"""Mark or unmark an incident as a false positive."""
from typing import Any, Dict

from lib import clock, incidents
from lib.base_action import ActionInputError, SelfHealingAction


class MarkFalsePositive(SelfHealingAction):
    def execute(self, incident_id: str = "", reason: str = "", by: str = "",
                false_positive: bool = True) -> Dict[str, Any]:
        book = incidents.Incidents(self.datastore())
        try:
            record = book.get(incident_id)
        except incidents.IncidentError as error:
            raise ActionInputError(str(error)) from None
        record["false_positive"] = bool(false_positive)
        record["false_positive_reason"] = reason if false_positive else ""
        record["false_positive_by"] = by
        record["false_positive_at"] = clock.isoformat(clock.now())
        book.save(record)
        text = "Incident `%s` %s%s." % (
            incident_id, "marked as a false positive" if false_positive else
            "no longer marked as a false positive", " by %s" % by if by else "")
        return {"incident_id": incident_id, "false_positive": record["false_positive"],
                "text": text}

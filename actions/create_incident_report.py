"""Render an incident as a Slack message for the escalation channel."""
from typing import Any, Dict

from lib import incidents, reports
from lib.base_action import ActionInputError, SelfHealingAction


class CreateIncidentReport(SelfHealingAction):
    def execute(self, incident_id: str = "", channel: str = "") -> Dict[str, Any]:
        book = incidents.Incidents(self.datastore(), int(self.settings.incident_ttl_s))
        try:
            record = book.get(incident_id)
        except incidents.IncidentError as error:
            raise ActionInputError(str(error)) from None
        return {"text": reports.incident_report(record),
                "channel": channel or self.settings.escalation_channel,
                "incident_id": incident_id, "status": record.get("status", "")}

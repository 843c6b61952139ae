"""Render an incident as a Slack message for the escalation channel."""
from typing import Any, Dict

from lib import incidents, reports, st2_links
from lib.base_action import ActionInputError, SelfHealingAction


class CreateIncidentReport(SelfHealingAction):
    """Tests may set `client` to a fake st2client (links to the playbook's execution)."""

    client = None  # type: Any

    def execute(self, incident_id: str = "", channel: str = "") -> Dict[str, Any]:
        book = incidents.Incidents(self.datastore(), int(self.settings.incident_ttl_s))
        try:
            record = book.get(incident_id)
        except incidents.IncidentError as error:
            raise ActionInputError(str(error)) from None
        web_url = self.settings.chatops.st2_web_url
        own_id = st2_links.current_execution_id()
        if web_url and own_id and not record.get("execution_id"):
            client = self.client or st2_links.client_from_environment()
            if client is not None:
                record["execution_id"] = st2_links.root_execution(client, own_id)
                book.save(record)
        return {"text": reports.incident_report(record, web_url),
                "channel": channel or self.settings.escalation_channel,
                "incident_id": incident_id, "status": record.get("status", ""),
                "execution_id": record.get("execution_id", "")}

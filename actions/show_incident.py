"""One incident with its reasoning and timeline."""
from typing import Any, Dict

from lib import incidents, reports
from lib.base_action import ActionInputError, SelfHealingAction


class ShowIncident(SelfHealingAction):
    def execute(self, incident_id: str = "") -> Dict[str, Any]:
        try:
            record = incidents.Incidents(self.datastore()).get(incident_id)
        except incidents.IncidentError as error:
            raise ActionInputError(str(error)) from None
        text = reports.incident_report(record, self.settings.chatops.st2_web_url)
        if record.get("reasoning"):
            text += "\n*Reasoning*\n" + "\n".join("• %s" % r for r in record["reasoning"])
        return {"incident": record, "timeline": incidents.render_timeline(record), "text": text}

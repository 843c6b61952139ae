"""Move an incident through its lifecycle; ending it releases its target locks."""
from typing import Any, Dict

from lib import incidents, policy
from lib.base_action import ActionInputError, SelfHealingAction


class SetIncidentStatus(SelfHealingAction):
    def execute(self, incident_id: str = "", status: str = "", reason: str = "") -> Dict[str, Any]:
        store = self.datastore()
        book = incidents.Incidents(store, int(self.settings.incident_ttl_s))
        try:
            previous = book.get(incident_id).get("status", "open")
            record = book.transition(incident_id, status, reason)
        except incidents.IncidentError as error:
            raise ActionInputError(str(error)) from None
        released = []
        if status in incidents.TERMINAL:
            released = policy.release_incident(store, incident_id, self.settings)
        return {"incident_id": incident_id, "status": record["status"],
                "previous_status": previous, "released_locks": released,
                "remediated_at": record.get("remediated_at"),
                "verified_at": record.get("verified_at")}

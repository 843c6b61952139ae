"""Approve or deny a pending plan: answer its StackStorm Inquiry, record it on the incident."""
import os
from typing import Any, Dict, Optional

from lib import incidents
from lib.base_action import ActionInputError, SelfHealingAction

MAX_PARENT_HOPS = 6


def st2_client() -> Any:
    """An st2client Client from the environment StackStorm gives actions, or a clear error."""
    try:
        from st2client.client import Client
    except ImportError:
        raise ActionInputError("st2client is not installed: answer the Inquiry with "
                               "`st2 inquiry respond <id>` or install st2client") from None
    # the Python runner exports ST2_ACTION_API_URL / ST2_ACTION_AUTH_TOKEN to every action
    url = os.environ.get("ST2_ACTION_API_URL") or os.environ.get("ST2_API_URL")
    token = os.environ.get("ST2_ACTION_AUTH_TOKEN") or os.environ.get("ST2_AUTH_TOKEN")
    if not url or not token:
        raise ActionInputError("ST2_ACTION_API_URL / ST2_ACTION_AUTH_TOKEN are not set: this "
                               "action must run inside StackStorm to answer an Inquiry")
    return Client(api_url=url, token=token)


def _incident_of_execution(client: Any, execution_id: str) -> str:
    """Walk the Inquiry's execution up to a workflow that has an `incident_id` parameter."""
    current = execution_id
    for _ in range(MAX_PARENT_HOPS):
        execution = client.executions.get_by_id(current)
        params = getattr(execution, "parameters", None) or {}
        if params.get("incident_id"):
            return str(params["incident_id"])
        parent = ((getattr(execution, "context", None) or {}).get("parent") or {})
        current = parent.get("execution_id")
        if not current:
            break
    return ""


def find_inquiry(client: Any, incident_id: str) -> Optional[str]:
    """The pending Inquiry whose workflow works on `incident_id`."""
    pending = client.inquiries.get_all()
    for inquiry in pending or []:
        if _incident_of_execution(client, inquiry.id) == incident_id:
            return str(inquiry.id)
    return None


class RespondToPlan(SelfHealingAction):
    """Tests may set `client` to a fake st2client."""

    client = None  # type: Any

    def execute(self, incident_id: str = "", inquiry_id: str = "", approve: bool = False,
                comment: str = "", by: str = "") -> Dict[str, Any]:
        if not incident_id and not inquiry_id:
            raise ActionInputError("incident_id or inquiry_id: one of them is required")
        book = incidents.Incidents(self.datastore(), int(self.settings.incident_ttl_s))
        record = book.find(incident_id) if incident_id else None
        if incident_id and record is None:
            raise ActionInputError("unknown incident %r" % incident_id)
        client = self.client or st2_client()
        inquiry_id = inquiry_id or (record or {}).get("inquiry_id") or \
            find_inquiry(client, incident_id) or ""
        if not inquiry_id:
            raise ActionInputError("incident %s has no plan waiting for approval" % incident_id)
        reason = ("%s: %s" % (by, comment) if by and comment else comment or by)
        client.inquiries.respond(inquiry_id, {"approved": bool(approve), "reason": reason})
        verdict = "approved" if approve else "denied"
        if record is not None:
            incidents.append_entry(record, "ESCALATE", "plan %s by %s%s" % (
                verdict, by or "a human", ": %s" % comment if comment else ""))
            record.setdefault("decisions", []).append(
                {"inquiry_id": inquiry_id, "approved": bool(approve), "by": by,
                 "comment": comment, "at": record["timeline"][-1]["at"]})
            record.pop("inquiry_id", None)
            book.save(record)
        text = "%s Plan %s for incident `%s`%s." % (
            ":white_check_mark:" if approve else ":no_entry:", verdict,
            incident_id or "?", " (%s)" % comment if comment else "")
        return {"incident_id": incident_id, "inquiry_id": inquiry_id,
                "approved": bool(approve), "text": text}

"""Approve or deny a pending plan: answer its StackStorm Inquiry, record it on the incident."""
import os
from typing import Any, Dict, Optional

from lib import approvals, audit, incidents, st2_links
from lib.base_action import ActionInputError, SelfHealingAction


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


def find_inquiry(client: Any, incident_id: str) -> Optional[str]:
    """The pending Inquiry whose workflow works on `incident_id`."""
    pending = client.inquiries.get_all()
    for inquiry in pending or []:
        if st2_links.incident_of_execution(client, inquiry.id) == incident_id:
            return str(inquiry.id)
    return None


class RespondToPlan(SelfHealingAction):
    """Tests may set `client` to a fake st2client."""

    client = None  # type: Any

    def execute(self, incident_id: str = "", inquiry_id: str = "", approve: bool = False,
                comment: str = "", by: str = "", requester: str = "") -> Dict[str, Any]:
        if not incident_id and not inquiry_id:
            raise ActionInputError("incident_id or inquiry_id: one of them is required")
        book = incidents.Incidents(self.datastore(), int(self.settings.incident_ttl_s))
        record = book.find(incident_id) if incident_id else None
        if incident_id and record is None:
            raise ActionInputError("unknown incident %r" % incident_id)
        client = self.client or st2_client()
        who = approvals.actor(requester, by)
        chat = self.settings.chatops
        refused = approvals.refusal((requester or by).strip(), chat.approvers.users,
                                    chat.approvers.roles, approvals.st2_roles_of(client))
        if refused:
            audit.append(self.datastore(), {"type": "approval_refused", "by": who,
                                            "incident_id": incident_id,
                                            "inquiry_id": inquiry_id, "reason": refused})
            raise ActionInputError("not answered: %s" % refused)
        inquiry_id = inquiry_id or (record or {}).get("inquiry_id") or \
            find_inquiry(client, incident_id) or ""
        if not inquiry_id:
            raise ActionInputError("incident %s has no plan waiting for approval" % incident_id)
        if not incident_id:
            incident_id = st2_links.incident_of_execution(client, inquiry_id)
            record = book.find(incident_id) if incident_id else None
        reason = ("%s: %s" % (who, comment) if who and comment else comment or who)
        client.inquiries.respond(inquiry_id, {"approved": bool(approve), "reason": reason})
        verdict = "approved" if approve else "denied"
        if record is not None:
            incidents.append_entry(record, "ESCALATE", "plan %s by %s%s" % (
                verdict, who or "a human", ": %s" % comment if comment else ""),
                kind="approval", outcome=verdict, by=who)
            record.setdefault("decisions", []).append(
                {"inquiry_id": inquiry_id, "approved": bool(approve), "by": who,
                 "comment": comment, "at": record["timeline"][-1]["at"]})
            record.pop("inquiry_id", None)
            book.save(record)
        url = st2_links.link(chat.st2_web_url, st2_links.root_execution(client, inquiry_id),
                             "workflow")
        text = "%s Plan %s by *%s* for incident `%s`%s.%s" % (
            ":white_check_mark:" if approve else ":no_entry:", verdict, who or "a human",
            incident_id or "?", " (%s)" % comment if comment else "",
            " %s" % url if url else "")
        return {"incident_id": incident_id, "inquiry_id": inquiry_id,
                "approved": bool(approve), "by": who, "text": text}

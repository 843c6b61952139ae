"""Page someone (any action: PagerDuty, Opsgenie, ...) when an approval waits too long."""
from typing import Any, Dict, List

from lib import clock, incidents, reports, st2_links
from lib.base_action import SelfHealingAction

PAGED_PREFIX = "self_healing.paged."
FIRST_SEEN_PREFIX = "self_healing.inquiry_seen."
KEEP_S = 2 * 86400


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "{%s}" % key


def fill(value: Any, fields: Dict[str, Any]) -> Any:
    """Substitute {inquiry_id}, {incident_id}, {minutes}, {summary}, {url} in string values."""
    if isinstance(value, str):
        return value.format_map(_Blank(fields))
    if isinstance(value, list):
        return [fill(item, fields) for item in value]
    if isinstance(value, dict):
        return {key: fill(item, fields) for key, item in value.items()}
    return value


class PageWaitingApprovals(SelfHealingAction):
    """Run by a timer rule; tests may set `client` to a fake st2client."""

    client = None  # type: Any

    def execute(self, dry_run: bool = False) -> Dict[str, Any]:
        chat = self.settings.chatops
        if not chat.page_action:
            return {"paged": [], "waiting": 0, "note": "paging is off (chatops.page_action)"}
        client = self.client or st2_links.client_from_environment()
        if client is None:
            return False, {"error": "no StackStorm API (ST2_ACTION_API_URL / token): "
                                    "cannot list Inquiries", "paged": []}
        store = self.datastore()
        now = clock.now()
        waiting = [i for i in client.inquiries.get_all() or []
                   if getattr(i, "route", "self_healing") == "self_healing"]
        paged: List[Dict[str, Any]] = []
        for inquiry in waiting:
            inquiry_id = str(inquiry.id)
            if store.get_json(PAGED_PREFIX + inquiry_id):
                continue
            minutes = (now - self._since(client, store, inquiry_id, now)) / 60.0
            if minutes < chat.page_after_minutes:
                continue
            page = self._page(client, chat, inquiry_id, minutes, dry_run)
            if not dry_run:
                store.set_json(PAGED_PREFIX + inquiry_id, page, KEEP_S)
            paged.append(page)
        return {"paged": paged, "waiting": len(waiting)}

    @staticmethod
    def _since(client: Any, store: Any, inquiry_id: str, now: float) -> float:
        """When the Inquiry was raised: its execution's start, else when first seen here."""
        try:
            started = getattr(client.executions.get_by_id(inquiry_id), "start_timestamp", "")
            if started:
                return clock.parse_iso(str(started))
        except Exception:  # the execution cannot be read: count from the first sighting
            pass
        seen = store.get_json(FIRST_SEEN_PREFIX + inquiry_id)
        if seen is None:
            store.set_json(FIRST_SEEN_PREFIX + inquiry_id, now, KEEP_S)
            return now
        return float(seen)

    def _page(self, client: Any, chat: Any, inquiry_id: str, minutes: float,
              dry_run: bool) -> Dict[str, Any]:
        incident_id = st2_links.incident_of_execution(client, inquiry_id)
        record = incidents.Incidents(self.datastore()).find(incident_id) if incident_id else None
        fields = {"inquiry_id": inquiry_id, "incident_id": incident_id or "?",
                  "minutes": int(minutes),
                  "summary": reports.incident_title(record) if record else "a plan step",
                  "url": st2_links.execution_url(
                      chat.st2_web_url, st2_links.root_execution(client, inquiry_id))}
        params = fill(chat.page_parameters.to_dict(), fields)
        page = {"inquiry_id": inquiry_id, "incident_id": incident_id, "action": chat.page_action,
                "parameters": params, "minutes_waiting": int(minutes), "execution_id": ""}
        if dry_run:
            return page
        from st2client.models import LiveAction
        created = client.executions.create(LiveAction(action=chat.page_action, parameters=params))
        page["execution_id"] = str(getattr(created, "id", ""))
        if record is not None:
            incidents.append_entry(record, "ESCALATE", "paged with %s: approval waiting %d min"
                                   % (chat.page_action, int(minutes)), kind="page",
                                   action=chat.page_action)
            incidents.Incidents(self.datastore()).save(record)
        return page

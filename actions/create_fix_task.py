"""File a follow-up task: POST to the configured webhook, record it in the incident either way."""
import json
import urllib.error
import urllib.request
from typing import Any, Dict, Optional, Tuple

from lib import clock, incidents
from lib.base_action import ActionInputError, SelfHealingAction, mutation_result

TIMEOUT_S = 10


def post_json(url: str, payload: Dict[str, Any]) -> Tuple[Optional[int], Optional[str], str]:
    """POST JSON; return (HTTP status or None, error or None, task URL from the answer)."""
    body = json.dumps(payload).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
            status = response.getcode()
            text = response.read(65536).decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, "webhook answered HTTP %d" % error.code, ""
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return None, "webhook unreachable: %s" % reason, ""
    link = ""
    try:
        answer = json.loads(text) if text else {}
        if isinstance(answer, dict):
            link = str(answer.get("url") or answer.get("html_url") or answer.get("link") or "")
    except ValueError:
        pass
    return status, None, link


class CreateFixTask(SelfHealingAction):
    def execute(self, incident_id: str = "", title: str = "", description: str = "",
                assignee: str = "devops", dry_run: bool = False) -> Dict[str, Any]:
        if not title:
            raise ActionInputError("title: is required")
        book = incidents.Incidents(self.datastore(), int(self.settings.incident_ttl_s))
        try:
            record = book.get(incident_id)
        except incidents.IncidentError as error:
            raise ActionInputError(str(error)) from None
        task = {"title": title, "assignee": assignee, "incident_id": incident_id,
                "description": description or default_description(record),
                "severity": record.get("severity"),
                "root_cause": (record.get("root_cause") or {}).get("summary", ""),
                "created_at": clock.isoformat(clock.now())}
        url = self.settings.fix_task_webhook
        would = "file task %r for %s%s" % (title, assignee, " via %s" % url if url else
                                          " (recorded in the incident)")
        if dry_run:
            return mutation_result(False, True, would, task=task, delivered=False,
                                   webhook_status=None, error=None,
                                   summary="would file: %s" % title)
        status, error, link = (None, None, "")
        if url:
            status, error, link = post_json(url, task)
        task.update(delivered=bool(url) and error is None, webhook_status=status, error=error,
                    url=link)
        record.setdefault("tasks", []).append(task)
        book.save(record)
        if not url:
            summary = "recorded in the incident; no fix_task_webhook configured"
        elif error:
            summary = "task recorded in the incident; %s" % error
        else:
            summary = "task filed%s" % (" at %s" % link if link else "")
        return mutation_result(True, False, would, task=task, delivered=task["delivered"],
                               webhook_status=status, error=error, summary=summary)


def default_description(record: Dict[str, Any]) -> str:
    lines = ["Incident %s (%s, severity %s)." % (record.get("id"), record.get("status"),
                                                 record.get("severity"))]
    root = (record.get("root_cause") or {}).get("summary")
    if root:
        lines.append("Root cause: %s." % root)
    lines.extend("- %s" % r for r in record.get("reasoning") or [])
    lines.append("")
    lines.extend(incidents.render_timeline(record))
    return "\n".join(lines)

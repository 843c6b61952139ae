"""Incidents, newest first, optionally by status and age."""
from typing import Any, Dict

from lib import clock, incidents, reports
from lib.base_action import ActionInputError, SelfHealingAction


class ListIncidents(SelfHealingAction):
    def execute(self, status: str = "", days: float = 0, limit: int = 20) -> Dict[str, Any]:
        if status and status != "active" and status not in incidents.STATUSES:
            raise ActionInputError("status: one of %s or active" % ", ".join(incidents.STATUSES))
        records = incidents.Incidents(self.datastore()).all()
        if status == "active":
            records = [r for r in records if r.get("status") in incidents.ACTIVE]
        elif status:
            records = [r for r in records if r.get("status") == status]
        if days:
            since = clock.now() - float(days) * 86400
            records = [r for r in records if clock.parse_iso(r["created_at"]) >= since]
        records = list(reversed(records))[:int(limit)]
        items = [{k: r.get(k) for k in ("id", "status", "severity", "playbook", "created_at",
                                        "affected_services", "false_positive")}
                 for r in records]
        for item, record in zip(items, records):
            item["root_cause"] = (record.get("root_cause") or {}).get("summary", "")
        title = "*%d incident(s)*%s" % (len(items), " with status %s" % status if status else "")
        text = "\n".join([title] + ["• " + reports.incident_line(r) for r in records])
        return {"incidents": items, "count": len(items), "text": text}

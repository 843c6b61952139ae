"""Effectiveness over the last N days, from the incident records (the seed's metric list)."""
from typing import Any, Dict

from lib import incidents, reports
from lib.base_action import SelfHealingAction


class EffectivenessReport(SelfHealingAction):
    def execute(self, days: float = 30) -> Dict[str, Any]:
        records = incidents.Incidents(self.datastore()).all()
        metrics = reports.effectiveness(records, float(days))
        return {"metrics": metrics, "text": reports.effectiveness_text(metrics)}

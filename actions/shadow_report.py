"""What the pack would have done in observe / dry-run mode, from the audit trail."""
from typing import Any, Dict

from lib import audit, clock, reports
from lib.base_action import SelfHealingAction


class ShadowReport(SelfHealingAction):
    def execute(self, hours: float = 24) -> Dict[str, Any]:
        since = clock.now() - float(hours) * 3600
        report = reports.shadow(audit.records(self.datastore(), since))
        report["text"] = reports.shadow_text(report, float(hours))
        return report

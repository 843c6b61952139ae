"""Render a playbook's verification PromQL from the configured metric source (no change made)."""
from typing import Any, Dict, List, Optional

from lib import metric_presets
from lib.base_action import ActionInputError, SelfHealingAction
from lib.config import parse_duration


class VerificationQuery(SelfHealingAction):
    def execute(self, check: str = "", namespace: str = "",
                services: Optional[List[str]] = None, window: str = "2m") -> Dict[str, Any]:
        try:
            parse_duration(window)
        except ValueError as error:
            raise ActionInputError("window: %s" % error) from None
        if not isinstance(services, list) or not all(isinstance(s, str) for s in services):
            raise ActionInputError("services: must be a list of service names")
        try:
            query = metric_presets.verification_query(self.settings, check, namespace,
                                                      services, window)
        except metric_presets.PresetError as error:
            raise ActionInputError(str(error)) from None
        found = metric_presets.sources(self.settings)
        return {"query": query, "check": check, "http_preset": found["http"]["preset"],
                "pool_preset": found["pool"]["preset"]}

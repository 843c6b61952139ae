"""Compute the healer's own metrics from the datastore and push them to a Pushgateway."""
from typing import Any, Dict

from lib import metrics
from lib.base_action import SelfHealingAction


def push(url: str, job: str, text: str, timeout_s: float, session: Any = None) -> int:
    """PUT the exposition text as the job's whole group; returns the HTTP status."""
    import requests

    target = "%s/metrics/job/%s" % (url.rstrip("/"), job)
    response = (session or requests).put(
        target, data=text.encode("utf-8"), timeout=timeout_s,
        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})
    return int(response.status_code)


class ExportMetrics(SelfHealingAction):
    """Run by a timer rule (one at a time: policies/export_metrics_one_at_a_time.yaml)."""

    session = None  # type: Any

    def execute(self, push_metrics: bool = True) -> Dict[str, Any]:
        samples = metrics.collect(self.datastore(), self.settings)
        text = metrics.exposition(samples)
        config = self.settings.metrics
        result = {"text": text, "samples": len(samples), "pushed": False, "status": 0}
        if push_metrics and config.pushgateway_url:
            try:
                status = push(config.pushgateway_url, config.job, text,
                              float(config.timeout_s), self.session)
            except Exception as error:  # network: say so, the totals are already saved
                return False, dict(result, error="push to %s failed: %s"
                                   % (config.pushgateway_url, error))
            result.update(pushed=200 <= status < 300, status=status)
            if not result["pushed"]:
                return False, dict(result, error="Pushgateway answered HTTP %d" % status)
        return result

"""Warn the services that call a degraded one (seed message `upstream_degradation` on NATS
subject `<prefix>.<dependent>.warning`). NATS down -> the result says which failed; no raise."""
from typing import List, Optional

from lib import clock, nats_notify
from lib.base_action import SelfHealingAction, mutation_result, require


class NotifyDependents(SelfHealingAction):
    def execute(self, service: str = "", dependents: Optional[List[str]] = None,
                recommendation: str = "activate_fallback", estimated_recovery: str = "15m",
                incident_id: str = "", connect_timeout_s: float = 3.0, dry_run: bool = False):
        require(service, "service")
        settings = self.settings
        targets = list(dependents) if dependents else settings.dependents_of(service)
        prefix = settings.nats.subject_prefix
        stamp = clock.isoformat(clock.now())
        messages = []
        for dependent in targets:
            messages.append(("%s.%s.warning" % (prefix, dependent), {
                "type": "upstream_degradation", "upstream": service,
                "recommendation": recommendation, "estimated_recovery": estimated_recovery,
                "incident_id": incident_id, "timestamp": stamp, "dependent": dependent}))
        subjects = [subject for subject, _ in messages]
        if dry_run or not messages:
            return mutation_result(False, dry_run, "publish upstream_degradation of %s on %s" % (
                service, ", ".join(subjects) or "no subject (no dependents)"),
                service=service, dependents=targets, published=[], failed=[],
                subjects=subjects, message=messages[0][1] if messages else {},
                nats_url=settings.nats.url)
        failures = nats_notify.publish(settings.nats.url, messages, float(connect_timeout_s))
        published = [s for s in subjects if s not in failures]
        return mutation_result(
            bool(published), False, "published on %d of %d subjects" % (
                len(published), len(subjects)),
            service=service, dependents=targets, subjects=subjects, published=published,
            failed=[{"subject": s, "error": e} for s, e in sorted(failures.items())],
            message=messages[0][1], nats_url=settings.nats.url)

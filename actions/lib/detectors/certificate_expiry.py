"""certificate_expiry: a cert-manager certificate expiring within `days`."""
from typing import List

from lib.detectors.base import MAX_TARGETS, Detector, fmt
from lib.signals import Signal, make_target

EXPIRY = "certmanager_certificate_expiration_timestamp_seconds"


class CertificateExpiryDetector(Detector):
    """Days left = (expiration timestamp - time()) / 86400 below `days` (expired ones
    included). Onset: the moment the certificate crossed the threshold (not_after - days),
    known from the data without a range query. Severity: critical under 1 day, high under 3,
    medium under 7, otherwise low.
    """

    name = "certificate_expiry"
    kind = "Certificate"
    freshness_query = "time() - max(timestamp(%s))" % EXPIRY

    def detect(self, now: float) -> List[Signal]:
        days = float(self.cfg["days"])
        query = "bottomk(%d, (%s - time()) / 86400 < %g)" % (MAX_TARGETS, EXPIRY, days)
        signals = []
        for sample in self.prom.query(query):
            name = sample.labels.get("name", "")
            if not name:
                continue
            namespace = sample.labels.get("namespace", "")
            days_left = sample.value
            not_after = now + days_left * 86400
            if days_left < 1:
                severity = "critical"
            elif days_left < 3:
                severity = "high"
            elif days_left < 7:
                severity = "medium"
            else:
                severity = "low"
            signals.append(Signal(
                detector=self.name, target=make_target("Certificate", name, namespace),
                severity=severity, first_detected=not_after - days * 86400, detected_at=now,
                summary="certificate %s/%s expires in %s days (issuer %s)" % (
                    namespace, name, fmt(days_left), sample.labels.get("issuer_name", "?")),
                evidence={"query": query, "values": {"days_left": round(days_left, 3)}},
                metadata={"days_left": round(days_left, 3), "not_after": _iso(not_after),
                          "issuer_name": sample.labels.get("issuer_name", "")}))
        return signals


def _iso(epoch: float) -> str:
    from lib import clock

    return clock.isoformat(epoch)

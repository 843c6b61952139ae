"""Watch a young symptom with no conclusive cause until it clears or lasts its persistence."""
from typing import Any, Dict, Optional

from lib import clock, incidents, symptom_watch
from lib.base_action import ActionInputError, SelfHealingAction, require


class WatchSymptom(SelfHealingAction):
    def execute(self, signal: Optional[Dict[str, Any]] = None, query: str = "",
                threshold: float = 0.0, incident_id: str = "", hold_s: float = 60,
                poll_s: float = 15, description: str = "") -> Dict[str, Any]:
        require(query, "query")
        if not isinstance(signal, dict) or not signal.get("detector"):
            raise ActionInputError("signal: a signal payload with its detector is needed")
        if float(hold_s) < 0 or float(poll_s) <= 0:
            raise ActionInputError("hold_s must be >= 0 and poll_s > 0")
        try:
            for_s = float(self.settings.detector(str(signal["detector"])).get("for_s") or 0)
        except Exception as error:
            raise ActionInputError("signal.detector: %s" % error) from None
        onset = _epoch(signal.get("first_detected"))
        prom = self.prom()
        try:
            result = symptom_watch.watch(prom.query, query, float(threshold), for_s, onset,
                                         float(hold_s), float(poll_s))
        finally:
            prom.close()
        result.update(query=query, threshold=float(threshold), for_s=for_s,
                      description=description or query)
        if incident_id and result["watched_s"] > 0:
            book = incidents.Incidents(self.datastore(), int(self.settings.incident_ttl_s))
            book.add_entry(incident_id, "VERIFY", "%s: %s" % (
                description or "the symptom", result["reason"]), kind="hold",
                outcome=result["state"])
        return result


def _epoch(value: Any) -> Optional[float]:
    """An onset given as epoch seconds or ISO 8601, or None."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return clock.parse_iso(str(value))
    except ValueError:
        return None

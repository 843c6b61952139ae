"""Alertmanager webhook -> the pack's signals, with the detectors' dedupe (one incident)."""
from typing import Any, Dict, List

from lib import alerts, signal_state, signals, st2_links
from lib.base_action import ActionInputError, SelfHealingAction
from lib.datastore import Datastore

PACK = "self_healing"


class IngestAlerts(SelfHealingAction):
    """Run by rule alertmanager_webhook; tests may set `client` to a fake st2client."""

    client = None  # type: Any

    def execute(self, payload: Any = None, dry_run: bool = False) -> Dict[str, Any]:
        try:
            batch = alerts.parse(payload)
        except alerts.AlertPayloadError as error:
            raise ActionInputError(str(error)) from None
        state = signal_state.SignalState(Datastore(self.action_service),
                                         ttl_s=int(self.settings.signal_ttl_s))
        receiver = str(payload.get("receiver", ""))
        fired: List[Dict[str, Any]] = []
        duplicates: List[str] = []
        cleared: List[Dict[str, Any]] = []
        unmapped: List[str] = []
        for alert in batch:
            signal, why = alerts.to_signal(alert, self.settings, receiver)
            if signal is None:
                unmapped.append(why)
                continue
            signals.validate_payload(signal.to_dict())
            if alert["status"] == "resolved":
                event = None if dry_run else state.resolve(signal, alerts.SOURCE)
                if event is not None:
                    self._dispatch("%s.signal_cleared" % PACK, event)
                    cleared.append(event)
                continue
            if dry_run or not state.observe(signal, alerts.SOURCE):
                duplicates.append(signal.signal_id)
                continue
            self._dispatch("%s.%s" % (PACK, signal.detector), signal.to_dict())
            fired.append(signal.to_dict())
        return {"alerts": len(batch), "fired": fired, "duplicates": duplicates,
                "cleared": cleared, "unmapped": unmapped}

    def _dispatch(self, trigger: str, payload: Dict[str, Any]) -> None:
        """Dispatch a pack trigger through StackStorm's generic webhook (POST /webhooks/st2)."""
        client = self.client or st2_links.client_from_environment()
        if client is None:
            raise ActionInputError("no StackStorm API (ST2_ACTION_API_URL / token) to "
                                   "dispatch %s" % trigger)
        client.webhooks.post_generic_webhook(trigger=trigger, payload=payload,
                                             trace_tag="alertmanager")

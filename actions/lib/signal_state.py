"""Open conditions in the datastore: one trigger per condition, re-armed when it clears.

Each condition lives at `self_healing.signal.<detector>.<target_key>` as
`{"state": "open"|"cleared", "signal_id", "first_detected", "last_seen", "missed",
"cleared_at", "flaps", "suppressed", "expires_at", "signal": payload}`.

- A signal with no open record fires (and opens one).
- A signal whose record is open only refreshes it (no trigger): one trigger per condition.
- An open condition missing from `clear_after` consecutive successful polls clears (one
  `signal_cleared`); the record stays as `cleared` for `flap_window_s`.
- A condition returning within `flap_window_s` of its clear counts a flap; it fires again
  until it has flapped `max_flaps` times, after which it stays open without triggers
  (suppressed) until it has been clear for a whole flap window.
- Records expire after `ttl_s` without a refresh (checked against the pack clock, and
  passed as the datastore TTL), so a lost sensor never blocks a condition for ever.
"""
from typing import Any, Dict, Iterable, List, Optional, Tuple

from lib import clock
from lib.datastore import PREFIX, Datastore
from lib.signals import Signal

STATE_PREFIX = "signal."
RECENT_PREFIX = "recent_signal."


class SignalState(object):
    """Dedupe, re-arm and flap damping of signals, per detector and target."""

    def __init__(self, datastore: Datastore, ttl_s: int = 86400, clear_after: int = 2,
                 flap_window_s: int = 900, max_flaps: int = 2) -> None:
        self.datastore = datastore
        self.ttl_s = int(ttl_s)
        self.clear_after = max(1, int(clear_after))
        self.flap_window_s = int(flap_window_s)
        self.max_flaps = int(max_flaps)

    def load(self) -> Dict[str, Dict[str, Any]]:
        """Every unexpired record, keyed by its key relative to `self_healing.`."""
        now = clock.now()
        records = {}
        for name, record in self.datastore.list_json(STATE_PREFIX).items():
            if not isinstance(record, dict) or record.get("expires_at", now + 1) <= now:
                continue
            records[name[len(PREFIX):] if name.startswith(PREFIX) else name] = record
        return records

    def update(self, detector: str, signals: Iterable[Signal],
               records: Optional[Dict[str, Dict[str, Any]]] = None
               ) -> Tuple[List[Signal], List[Dict[str, Any]]]:
        """Apply one successful poll of `detector`; return (signals to fire, cleared events).

        Signals to fire carry the id/first_detected of the condition they belong to; the
        cleared events are `signal_cleared` payloads.
        """
        now = clock.now()
        if records is None:
            records = self.load()
        fire: List[Signal] = []
        seen = set()
        for signal in signals:
            key = signal.state_key
            seen.add(key)
            record = records.get(key)
            if self._process_seen(signal, record, now):
                fire.append(signal)
        cleared = []
        prefix = "%s%s." % (STATE_PREFIX, detector)
        for key, record in records.items():
            if not key.startswith(prefix) or key in seen or record.get("state") != "open":
                continue
            event = self._process_missing(key, record, now)
            if event is not None:
                cleared.append(event)
        return fire, cleared

    def observe(self, signal: Signal, source: str) -> bool:
        """A signal from outside the polls (an Alertmanager alert); True when it must fire.

        It shares the detectors' records: a condition already open, whoever opened it, only
        refreshes (no second trigger, so no second incident); one it opens is marked `source`.
        """
        key = signal.state_key
        now = clock.now()
        record = self._current(key, now)
        fire = self._process_seen(signal, record, now)
        if record is None or record.get("state") != "open":
            opened = self._current(key, now) or {}
            opened["source"] = source
            self._save(key, opened, now)
        return fire

    def resolve(self, signal: Signal, source: str) -> Optional[Dict[str, Any]]:
        """The outside source says the condition ended: clear it (a `signal_cleared` payload)
        if that source opened it; a condition a detector opened is left to the detector."""
        key = signal.state_key
        now = clock.now()
        record = self._current(key, now)
        if not record or record.get("state") != "open" or record.get("source") != source:
            return None
        record.update(state="cleared", cleared_at=now)
        self._save(key, record, now, ttl=max(self.flap_window_s, 1))
        return {"detector": record.get("detector", ""), "target": record.get("target", {}),
                "signal_id": record.get("signal_id", ""), "cleared_at": clock.isoformat(now)}

    def _current(self, key: str, now: float) -> Optional[Dict[str, Any]]:
        record = self.datastore.get_json(key)
        if not isinstance(record, dict) or record.get("expires_at", now + 1) <= now:
            return None
        return record

    def _process_seen(self, signal: Signal, record: Optional[Dict[str, Any]],
                      now: float) -> bool:
        """Refresh or open the record of a condition seen now; True when it must fire."""
        state = (record or {}).get("state")
        if state == "open":
            signal.signal_id = record["signal_id"]
            signal.first_detected = min(signal.first_detected,
                                        float(record.get("first_detected", now)))
            record.update(last_seen=now, missed=0, signal=signal.to_dict())
            self._save(signal.state_key, record, now)
            return False
        flaps = 0
        if state == "cleared" and now - float(record.get("cleared_at", 0)) < self.flap_window_s:
            flaps = int(record.get("flaps", 0)) + 1
            # A returning condition continues where it began (the data said so before).
            signal.first_detected = min(signal.first_detected,
                                        float(record.get("first_detected", now)))
            signal.signal_id = "%s.%s.%d" % (signal.detector, signal.target_key,
                                             int(signal.first_detected))
            signal.signal_id += ".f%d" % flaps
        suppressed = flaps > self.max_flaps
        record = {"state": "open", "signal_id": signal.signal_id,
                  "first_detected": signal.first_detected, "opened_at": now,
                  "last_seen": now, "missed": 0, "flaps": flaps, "suppressed": suppressed,
                  "detector": signal.detector, "target": signal.target,
                  "signal": signal.to_dict()}
        self._save(signal.state_key, record, now)
        if not suppressed:
            self.datastore.set_json(RECENT_PREFIX + signal.signal_id, signal.to_dict(),
                                    ttl=self.ttl_s)
        return not suppressed

    def _process_missing(self, key: str, record: Dict[str, Any],
                         now: float) -> Optional[Dict[str, Any]]:
        """Count a poll without the condition; clear it after `clear_after` in a row."""
        record["missed"] = int(record.get("missed", 0)) + 1
        if record["missed"] < self.clear_after:
            self._save(key, record, now)
            return None
        record.update(state="cleared", cleared_at=now)
        self._save(key, record, now, ttl=max(self.flap_window_s, 1))
        if record.get("suppressed"):
            return None
        return {"detector": record.get("detector", ""), "target": record.get("target", {}),
                "signal_id": record.get("signal_id", ""), "cleared_at": clock.isoformat(now)}

    def _save(self, key: str, record: Dict[str, Any], now: float,
              ttl: Optional[int] = None) -> None:
        ttl = self.ttl_s if ttl is None else ttl
        record["expires_at"] = now + ttl
        self.datastore.set_json(key, record, ttl=ttl)

"""Parse the time values found in trigger payloads.

The pack's `lib.clock.parse_iso` reads the same ISO 8601 forms for the pack; this is kept apart
on purpose: the engine runs any pack (its test fixture pack has no `lib`), so its rule operators
cannot depend on one pack's library, and pack code never imports the engine.
"""
import datetime
from typing import Any


def to_epoch(value: Any) -> float:
    """Epoch seconds from a number or an ISO 8601 string (Z, offset or naive UTC)."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    moment = datetime.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()

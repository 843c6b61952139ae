"""Deterministic virtual clock for the twin: epoch seconds advanced in fixed steps."""
from __future__ import annotations

import datetime as _dt
import math
import time as _time


class VirtualClock:
    """A clock that only moves when told to; `now()` is epoch seconds (float)."""

    def __init__(self, start_epoch: float, step_s: float = 15.0) -> None:
        if step_s <= 0:
            raise ValueError("step_s must be > 0")
        self._now = float(start_epoch)
        self.start_epoch = float(start_epoch)
        self.step_s = float(step_s)

    def now(self) -> float:
        """Current virtual time, epoch seconds."""
        return self._now

    def utcnow(self) -> _dt.datetime:
        """Current virtual time as an aware UTC datetime."""
        return _dt.datetime.fromtimestamp(self._now, tz=_dt.timezone.utc)

    def isoformat(self) -> str:
        """Current virtual time as `YYYY-MM-DDTHH:MM:SSZ`."""
        return iso(self._now)

    def advance(self, seconds: float) -> float:
        """Move the clock forward by `seconds` (>= 0); returns the new time."""
        if seconds < 0:
            raise ValueError("the virtual clock never goes backwards")
        self._now += float(seconds)
        return self._now

    def tick(self) -> float:
        """Advance one step."""
        return self.advance(self.step_s)

    def set(self, epoch: float) -> None:
        """Jump forward to `epoch` (never backwards)."""
        if epoch < self._now:
            raise ValueError("the virtual clock never goes backwards")
        self._now = float(epoch)


def iso(epoch: float) -> str:
    """Epoch seconds to an RFC 3339 UTC string with second precision."""
    moment = _dt.datetime.fromtimestamp(math.floor(epoch), tz=_dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def next_time_of_day(hms: str, not_before: float = 0.0, lead_s: float = 0.0) -> float:
    """Epoch of the first `HH:MM:SS` UTC on a date such that epoch - lead_s >= not_before.

    The twin's Prometheus accepts future samples but rejects samples far in the past, so a
    scenario whose onset is a time of day is placed on the first date whose pre-history starts
    no earlier than `not_before` (default: real now).
    """
    if not not_before:
        not_before = _time.time()
    hour, minute, second = (int(part) for part in hms.split(":"))
    day = _dt.datetime.fromtimestamp(not_before, tz=_dt.timezone.utc).date()
    for offset in range(0, 3):
        moment = _dt.datetime(day.year, day.month, day.day, hour, minute, second,
                              tzinfo=_dt.timezone.utc) + _dt.timedelta(days=offset)
        if moment.timestamp() - lead_s >= not_before:
            return moment.timestamp()
    raise AssertionError("unreachable")


def rounded_future_start(not_before: float = 0.0, round_to_s: float = 3600.0) -> float:
    """A start epoch >= `not_before` (default real now), rounded up to `round_to_s`."""
    if not not_before:
        not_before = _time.time()
    return math.ceil(not_before / round_to_s) * round_to_s

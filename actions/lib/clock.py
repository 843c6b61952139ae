"""The pack's one seam for reading time: real time in production, virtual time in the twin."""
import datetime
import time
from typing import Callable, Optional

_now_fn: Optional[Callable[[], float]] = None
_sleep_fn: Optional[Callable[[float], None]] = None


def set_time_source(now_fn: Callable[[], float],
                    sleep_fn: Optional[Callable[[float], None]] = None) -> None:
    """Install a clock (epoch seconds) and optionally a sleep that advances it."""
    global _now_fn, _sleep_fn
    _now_fn = now_fn
    _sleep_fn = sleep_fn


def reset() -> None:
    """Go back to real time."""
    set_time_source(None, None)  # type: ignore[arg-type]


def now() -> float:
    """Current time in epoch seconds."""
    return _now_fn() if _now_fn is not None else time.time()


def utcnow() -> datetime.datetime:
    """Current time as an aware UTC datetime."""
    return datetime.datetime.fromtimestamp(now(), tz=datetime.timezone.utc)


def sleep(seconds: float) -> None:
    """Wait; under a virtual clock this advances the clock instead of blocking."""
    if seconds <= 0:
        return
    if _sleep_fn is not None:
        _sleep_fn(seconds)
    else:
        time.sleep(seconds)


def isoformat(epoch: float) -> str:
    """Epoch seconds to an ISO 8601 UTC string with a trailing Z."""
    dt = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> float:
    """ISO 8601 (Z or offset) to epoch seconds."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    dt = datetime.datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return dt.timestamp()

"""The incident end deadline: when waits and approvals must give up (epoch seconds)."""
import math
from typing import Optional

from lib import incidents


def wait_deadline(created_at_epoch: float, holds_s: float = 0.0, reserve_s: float = 30.0) -> float:
    """When an incident's waits must end: its creation + END_BUDGET_S + `holds_s`, less
    `reserve_s` left for finishing and reporting before the bound."""
    return float(created_at_epoch) + incidents.END_BUDGET_S + float(holds_s) - float(reserve_s)


def capped_timeout(timeout_s: float, deadline: Optional[float], now: float,
                   floor_s: float = 0.0) -> float:
    """`timeout_s` capped by the time left before `deadline` (epoch seconds; None/0 = no cap).

    While budget remains the cap never goes below `floor_s` (a verification still gets its
    hold); once the deadline has passed the result is 0 so the wait ends after one poll."""
    if not deadline:
        return timeout_s
    left = float(deadline) - now
    if left <= 0:
        return 0.0
    return min(timeout_s, max(left, floor_s))


def capped_ttl_minutes(ttl_minutes: int, deadline: Optional[float], now: float,
                       floor_minutes: int = 1) -> int:
    """An Inquiry TTL (whole minutes) that expires by `deadline` (None/0 = `ttl_minutes`).

    Whole minutes left, rounded down, never below `floor_minutes` (core.ask needs a TTL of at
    least a minute; a passed deadline gives the floor)."""
    if not deadline:
        return int(ttl_minutes)
    left = int(math.floor((float(deadline) - now) / 60.0))
    return max(int(floor_minutes), min(int(ttl_minutes), left))

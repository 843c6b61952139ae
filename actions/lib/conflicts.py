"""Optimistic-concurrency helper: on 409 Conflict re-read and try again."""
from typing import Any, Callable

from lib import clock
from lib.kube import KubeError

CONFLICT = 409


def retry_on_conflict(operation: Callable[[], Any], attempts: int = 5,
                      backoff_s: float = 0.2) -> Any:
    """Run `operation` (which must re-read the object itself) until it does not hit a 409."""
    for attempt in range(max(1, attempts)):
        try:
            return operation()
        except KubeError as error:
            if error.status != CONFLICT or attempt + 1 >= attempts:
                raise
            clock.sleep(backoff_s * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover

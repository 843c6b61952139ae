"""A fake st2client for actions that ask StackStorm about executions.

Its `executions.get_by_id` behaves like the genuine st2client's: an execution model (a
LiveAction with `status` and `context`) for a known id, None for an unknown one (HTTP 404).
"""
from typing import Any, Dict, Optional


class FakeExecution(object):
    def __init__(self, execution_id: str, status: str, parent: str = "") -> None:
        self.id = execution_id
        self.status = status
        self.context = {"parent": {"execution_id": parent}} if parent else {}


class FakeExecutions(object):
    def __init__(self, known: Dict[str, Any], error: Optional[Exception] = None) -> None:
        self.known = known
        self.error = error
        self.asked = []  # type: list

    def get_by_id(self, execution_id: str, **kwargs: Any) -> Optional[FakeExecution]:
        self.asked.append(execution_id)
        if self.error is not None:
            raise self.error
        value = self.known.get(execution_id)
        if value is None:
            return None
        status, parent = value if isinstance(value, tuple) else (value, "")
        return FakeExecution(execution_id, status, parent)


class FakeSt2Client(object):
    """`known` maps an execution id to its status, or to (status, parent execution id)."""

    def __init__(self, known: Dict[str, Any], error: Optional[Exception] = None) -> None:
        self.executions = FakeExecutions(known, error)

"""An action execution as the engine records it, and the statuses StackStorm gives one."""
import itertools
from typing import Any, Dict, List, Optional

SUCCEEDED = "succeeded"
FAILED = "failed"
TIMEOUT = "timeout"
CANCELED = "canceled"
PENDING = "pending"
DELAYED = "delayed"
RUNNING = "running"
COMPLETED = (SUCCEEDED, FAILED, TIMEOUT, CANCELED)

_ids = itertools.count(1)


class Execution(object):
    """One action execution, as the engine records it."""

    def __init__(self, ref: str, parameters: Dict[str, Any],
                 context: Optional[Dict[str, Any]] = None,
                 execution_id: Optional[str] = None) -> None:
        self.id = execution_id or "ex-%05d" % next(_ids)
        self.ref = ref
        self.parameters = dict(parameters or {})
        self.context = dict(context or {})
        self.status = "requested"
        self.result: Any = None
        self.runner_type = ""
        self.started_at: Optional[float] = None
        self.finished_at: Optional[float] = None
        self.log: List[Dict[str, Any]] = []

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED

    def finish(self, status: str, result: Any, now: float) -> "Execution":
        self.status = status
        self.result = result
        self.finished_at = now
        return self

    def to_dict(self) -> Dict[str, Any]:
        return {"id": self.id, "ref": self.ref, "parameters": self.parameters,
                "status": self.status, "result": self.result, "runner_type": self.runner_type,
                "started_at": self.started_at, "finished_at": self.finished_at,
                "parent": self.context.get("parent"), "task": self.context.get("task")}

    def __repr__(self) -> str:
        return "Execution(%s %s %s)" % (self.id, self.ref, self.status)

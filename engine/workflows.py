"""Conduct Orquesta workflows with orquesta's WorkflowConductor and a pluggable executor.

`run_workflow(ref_or_path, parameters, executor)` runs a workflow to its end. The executor is
called as `executor(action_ref, parameters, context)` and returns an object with `status` and
`result` (an `engine.actions.Execution`) or a `(status, result)` tuple. Results follow
StackStorm: python actions `{"result": ..., "stdout", "stderr", "exit_code"}`, workflows
`{"output": ...}`, core.ask `{"response": ...}`.
"""
import itertools
import os
from typing import Any, Callable, Dict, List, Optional

from engine import expressions

expressions.register()

from orquesta import conducting, events, statuses  # noqa: E402
from orquesta.specs import native as native_specs  # noqa: E402

from engine import params as param_utils  # noqa: E402
from engine.pack import Pack, load_yaml  # noqa: E402

_ids = itertools.count(1)
MAX_ROUNDS = 10000


class WorkflowError(Exception):
    """The workflow definition cannot be loaded or is invalid."""


class WorkflowRun(object):
    """The outcome of one workflow execution."""

    def __init__(self, ref: str, path: str, parameters: Dict[str, Any]) -> None:
        self.id = "wf-%05d" % next(_ids)
        self.ref = ref
        self.path = path
        self.parameters = parameters
        self.status = statuses.REQUESTED
        self.output: Optional[Dict[str, Any]] = None
        self.errors: List[Dict[str, Any]] = []
        self.tasks: List[Dict[str, Any]] = []
        self.conductor: Any = None
        self.execution_id: Optional[str] = None  # the workflow's own action execution

    @property
    def result(self) -> Dict[str, Any]:
        """The execution result StackStorm's orquesta runner reports."""
        result: Dict[str, Any] = {"output": self.output}
        if self.errors:
            result["errors"] = self.errors
        return result

    def task(self, task_id: str) -> Dict[str, Any]:
        """The last record of a task (KeyError when it never ran)."""
        for record in reversed(self.tasks):
            if record["id"] == task_id:
                return record
        raise KeyError(task_id)

    def task_ids(self) -> List[str]:
        return [record["id"] for record in self.tasks]

    def __repr__(self) -> str:
        return "WorkflowRun(%s %s %s)" % (self.id, self.ref, self.status)


def resolve(ref_or_path: str, pack: Optional[Pack] = None) -> (str, str, Any):
    """(ref, path, action metadata or None) of a workflow given a pack ref or a file path."""
    if os.path.exists(ref_or_path):
        path = os.path.abspath(ref_or_path)
        return os.path.splitext(os.path.basename(path))[0], path, None
    pack = pack or Pack()
    meta = pack.action(ref_or_path)
    if meta.runner_type != "orquesta":
        raise WorkflowError("%s is not an orquesta workflow (runner %s)"
                            % (ref_or_path, meta.runner_type))
    return meta.ref, meta.entry_path, meta


_SPECS: Dict[str, Any] = {}


def load_spec(path: str) -> Any:
    """The inspected workflow spec (cached per file and modification time); raises
    WorkflowError listing orquesta's errors."""
    key = "%s@%s" % (path, os.path.getmtime(path))
    if key not in _SPECS:
        definition = load_yaml(path)
        spec = native_specs.WorkflowSpec(definition)
        errors = spec.inspect()
        if errors:
            raise WorkflowError("%s: %s" % (path, errors))
        _SPECS[key] = spec
    return _SPECS[key]


def _default_sleep(seconds: float) -> None:
    try:
        from lib import clock
    except ImportError:  # pragma: no cover - pack not on sys.path
        return
    clock.sleep(seconds)


def _outcome(value: Any) -> (str, Any):
    if isinstance(value, tuple):
        return value[0], value[1]
    return value.status, value.result


def run_workflow(ref_or_path: str, parameters: Optional[Dict[str, Any]],
                 executor: Callable[..., Any], pack: Optional[Pack] = None,
                 context: Optional[Dict[str, Any]] = None,
                 sleep_fn: Optional[Callable[[float], None]] = None,
                 user: str = "stanley") -> WorkflowRun:
    """Run a workflow to completion; every action goes through `executor`.

    Given a ref, the action's parameter defaults and validation apply (ParameterError).
    `sleep_fn` waits for task delays and retries (default `lib.clock.sleep`).
    """
    ref, path, meta = resolve(ref_or_path, pack)
    parameters = dict(parameters or {})
    if meta is not None and not context:  # a top-level run: apply the action's parameters
        parameters = param_utils.prepare(meta.parameters, parameters, "orquesta",
                                         getattr(executor, "render_default", None))
    run = WorkflowRun(ref, path, parameters)
    run.execution_id = context.get("parent_execution") if context else None
    if run.execution_id:
        run.id = "wf-" + run.execution_id  # one workflow per action execution
    context = dict(context or {})
    sleep = sleep_fn or _default_sleep
    try:
        spec = load_spec(path)
    except Exception as error:
        run.status = statuses.FAILED
        run.errors = [{"type": "error", "message": str(error)}]
        return run
    st2_ctx = {"st2": {"action_execution_id": context.get("parent_execution", run.id),
                       "workflow_execution_id": run.id, "user": user,
                       "pack": ref.split(".")[0], "action": context.get("action", ref),
                       "runner": "orquesta", "api_url": "http://127.0.0.1:9101/v1"}}
    conductor = conducting.WorkflowConductor(spec, context=st2_ctx, inputs=run.parameters)
    run.conductor = conductor
    conductor.request_workflow_status(statuses.RUNNING)
    accumulated: Dict[tuple, List[Any]] = {}
    for _ in range(MAX_ROUNDS):
        next_tasks = conductor.get_next_tasks()
        if not next_tasks:
            break
        for task in next_tasks:
            _run_task(conductor, task, executor, run, accumulated, sleep)
    else:
        conductor.request_workflow_status(statuses.FAILED)
        conductor.log_error(WorkflowError("workflow exceeded %d rounds" % MAX_ROUNDS))
    if conductor.get_workflow_status() in statuses.COMPLETED_STATUSES:
        conductor.render_workflow_output()
    run.status = conductor.get_workflow_status()
    run.output = conductor.get_workflow_output()
    run.errors = conductor.errors
    return run


def _run_task(conductor: Any, task: Dict[str, Any], executor: Callable[..., Any],
              run: WorkflowRun, accumulated: Dict[tuple, List[Any]],
              sleep: Callable[[float], None]) -> None:
    task_id, route = task["id"], task["route"]
    if task.get("delay"):
        sleep(task["delay"])
    if "items_count" not in task:
        action = task["actions"][0]
        conductor.update_task_state(task_id, route, events.ActionExecutionEvent(statuses.RUNNING))
        status, result = _execute(executor, action, run, task_id, route, None, conductor)
        conductor.update_task_state(task_id, route,
                                    events.ActionExecutionEvent(status, result=result))
        _resume_if_paused(conductor)
        return
    key = (task_id, route)
    if task["items_count"] == 0:
        conductor.update_task_state(task_id, route, events.ActionExecutionEvent(statuses.RUNNING))
        conductor.update_task_state(task_id, route,
                                    events.ActionExecutionEvent(statuses.SUCCEEDED, result=[]))
        return
    results = accumulated.setdefault(key, [None] * task["items_count"])
    for action in task["actions"]:
        item_id = action["item_id"]
        conductor.update_task_state(
            task_id, route, events.TaskItemActionExecutionEvent(item_id, statuses.RUNNING))
    for action in task["actions"]:
        item_id = action["item_id"]
        status, result = _execute(executor, action, run, task_id, route, item_id, None)
        results[item_id] = result
        conductor.update_task_state(task_id, route, events.TaskItemActionExecutionEvent(
            item_id, status, result=result, accumulated_result=list(results)))
    _resume_if_paused(conductor)
    state = conductor.get_task_state_entry(task_id, route) or {}
    if state.get("status") in statuses.COMPLETED_STATUSES:
        accumulated.pop(key, None)


def _resume_if_paused(conductor: Any) -> None:
    """A paused workflow (an Inquiry was pending) resumes once nothing is pending any more."""
    if conductor.get_workflow_status() == statuses.PAUSED and \
            not conductor.workflow_state.get_tasks_by_status([statuses.PENDING]):
        conductor.request_workflow_status(statuses.RESUMING)


def _execute(executor: Callable[..., Any], action: Dict[str, Any], run: WorkflowRun,
             task_id: str, route: int, item_id: Optional[int],
             conductor: Any) -> (str, Any):
    ref = action.get("action")
    record = {"id": task_id, "route": route, "item_id": item_id, "action": ref,
              "input": action.get("input") or {}}
    run.tasks.append(record)
    handle = None
    if not ref:
        status, result = statuses.SUCCEEDED, None
    else:
        context = {"parent": run.execution_id or run.id, "workflow": run.ref,
                   "task": task_id, "route": route, "item_id": item_id}
        try:
            handle = executor(ref, dict(action.get("input") or {}), context)
            status, result = _outcome(handle)
        except Exception as error:  # an executor bug fails the task, not the engine
            status, result = statuses.FAILED, {"error": "%s: %s" % (type(error).__name__, error)}
    if status == statuses.PENDING:
        record["status"] = status
        if conductor is not None:  # the task pends and the workflow pauses, as in StackStorm
            conductor.update_task_state(task_id, route,
                                        events.ActionExecutionEvent(statuses.PENDING))
        status, result = _wait(executor, handle)
    record["status"] = status
    record["result"] = result
    return status, result


def _wait(executor: Callable[..., Any], handle: Any) -> (str, Any):
    """Block (on the engine's clock) until a pending execution completes."""
    wait = getattr(executor, "wait_for", None)
    if wait is None or handle is None or isinstance(handle, tuple):
        return statuses.FAILED, {"error": "the execution is pending and the executor cannot "
                                          "wait for it"}
    return _outcome(wait(handle))

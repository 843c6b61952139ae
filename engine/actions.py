"""Run the pack's actions through StackStorm's Action interface.

Python actions run in their own eventlet-patched processes, as StackStorm's python runner
runs them (engine/isolation.py); `ENGINE_IN_PROCESS=1` runs them in this process instead.

`ActionRunner` is also the executor `engine.workflows.run_workflow` expects: calling it with
`(ref, parameters, context)` returns a finished `Execution`.
"""
import contextlib
import copy
import importlib.util
import io
import json
import logging
import os
import sys
import time
import traceback
from typing import Any, Callable, Dict, List, Optional

from engine import builtins as builtin_actions
from engine import isolation
from engine import params as param_utils
from engine import st2api
from engine.datastore import Datastore, DatastoreService
from engine.execution import (  # noqa: F401  (re-exported: engine.actions.SUCCEEDED ...)
    CANCELED, COMPLETED, DELAYED, FAILED, PENDING, RUNNING, SUCCEEDED, TIMEOUT, Execution)
from engine.pack import ActionMeta, Pack, PackError
from engine.standin import STANDIN_DIR, ensure_st2_importable  # noqa: F401  (re-exported)


class ActionService(DatastoreService):
    """StackStorm's action_service: datastore access for one action class."""


def _plain(value: Any) -> Any:
    """What StackStorm stores: the JSON-serialisable form of a result."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        try:
            return json.loads(json.dumps(value, default=str))
        except (TypeError, ValueError):
            return str(value)


def python_result(output: Any) -> (str, Any):
    """StackStorm's python runner semantics: a value, or an `(ok, value)` tuple."""
    if isinstance(output, tuple) and len(output) == 2 and isinstance(output[0], bool):
        return (SUCCEEDED if output[0] else FAILED), output[1]
    return SUCCEEDED, output


class ActionRunner(object):
    """Executes action refs: pack Python actions, nested workflows and built-ins."""

    def __init__(self, pack: Optional[Pack] = None, config: Optional[Dict[str, Any]] = None,
                 store: Optional[Datastore] = None,
                 now_fn: Optional[Callable[[], float]] = None,
                 builtins: Optional[Dict[str, Callable]] = None,
                 sleep_fn: Optional[Callable[[float], None]] = None) -> None:
        ensure_st2_importable()
        self.pack = pack or Pack()
        self.pack.add_to_sys_path()
        self.config = config if config is not None else self.pack.config()
        self._now = now_fn or _lib_clock_now
        self.sleep = sleep_fn or lib_clock_sleep
        self.store = store or Datastore(self._now)
        self.builtins = dict(builtin_actions.DEFAULTS)
        self.builtins.update(builtins or {})
        self.executions: List[Execution] = []
        self.listeners: List[Callable[[str, Execution], None]] = []
        self.before_run: List[Callable[[Execution], Optional[str]]] = []
        self.workflow_options: Dict[str, Any] = {}
        self._classes: Dict[str, type] = {}
        self.stack: List[Execution] = []
        self.delayed: List[Execution] = []
        # StackStorm does not validate outputs by default (validate_output_schema = False);
        # the engine reports mismatches here instead of failing the execution
        self.output_warnings: List[str] = []
        self.logger = logging.getLogger("engine.actions")
        st2api.activate(self)

    def now(self) -> float:
        return self._now()

    def __call__(self, ref: str, parameters: Dict[str, Any],
                 context: Optional[Dict[str, Any]] = None) -> Execution:
        return self.run(ref, parameters, context)

    def run(self, ref: str, parameters: Optional[Dict[str, Any]] = None,
            context: Optional[Dict[str, Any]] = None) -> Execution:
        """Run `ref` to completion; a policy may cancel it or delay it (status `delayed`)."""
        execution = Execution(ref, parameters or {}, context,
                              "ex-%05d" % (len(self.executions) + 1))
        self.executions.append(execution)
        return self.start(execution)

    def start(self, execution: Execution) -> Execution:
        """Apply policies, then execute (also used to retry a delayed execution)."""
        for hook in self.before_run:
            verdict = hook(execution)
            if verdict == CANCELED:
                execution.started_at = self.now()
                execution.finish(CANCELED, {"error": "canceled by policy"}, self.now())
                self._notify("finished", execution)
                return execution
            if verdict == DELAYED and not execution.context.get("parent"):
                if execution.status != DELAYED:
                    execution.status = DELAYED
                    self.delayed.append(execution)
                    self._notify("delayed", execution)
                return execution
        if execution in self.delayed:
            self.delayed.remove(execution)
        execution.status = RUNNING
        execution.started_at = self.now()
        self._notify("started", execution)
        self.stack.append(execution)
        try:
            status, result = self._dispatch(execution)
        except Exception as error:  # the runner itself failed: the execution fails
            status, result = FAILED, {"error": str(error), "traceback": traceback.format_exc()}
        finally:
            self.stack.remove(execution)
        if status == PENDING:  # an Inquiry: completed later by InquiryPolicy.respond/expire
            execution.status = PENDING
            execution.result = _plain(result)
            self._notify("pending", execution)
            return execution
        execution.finish(status, _plain(result), self.now())
        self._notify("finished", execution)
        return execution

    def wait_for(self, execution: Execution, poll_s: float = 15.0) -> Execution:
        """Let (virtual) time pass until a pending execution completes."""
        policy = getattr(self, "inquiry_policy", None)
        while execution.status == PENDING:
            if policy is not None:
                policy.process_due(self.now())
                if execution.status != PENDING:
                    break
            due = policy.next_due() if policy is not None else None
            step = poll_s if due is None else min(poll_s, max(0.5, due - self.now()))
            self.sleep(step)
        self._notify("finished", execution)
        return execution

    def run_delayed(self) -> List[Execution]:
        """Retry delayed executions (call when running ones may have finished)."""
        started = []
        for execution in list(self.delayed):
            self.start(execution)
            if execution.status != DELAYED:
                started.append(execution)
        return started

    def _notify(self, event: str, execution: Execution) -> None:
        for listener in self.listeners:
            listener(event, execution)

    def _dispatch(self, execution: Execution) -> (str, Any):
        builtin = self.builtins.get(execution.ref)
        if builtin is not None:
            execution.runner_type = "builtin"
            return builtin(self, execution)
        try:
            meta = self.pack.action(execution.ref)
        except PackError as error:
            return FAILED, {"error": str(error)}
        execution.runner_type = meta.runner_type
        if not meta.enabled:
            return FAILED, {"error": "action %s is disabled" % meta.ref}
        try:
            execution.parameters = param_utils.prepare(
                meta.parameters, execution.parameters, meta.runner_type,
                lambda value: self.render_default(value, execution.context))
        except param_utils.ParameterError as error:
            return FAILED, {"error": "parameter validation failed: %s" % error}
        if meta.runner_type == "python-script":
            return self._run_python(meta, execution)
        if meta.runner_type == "orquesta":
            return self._run_workflow(meta, execution)
        local = self.builtins.get("runner:" + meta.runner_type)
        if local is not None:
            return local(self, execution)
        return FAILED, {"error": "runner %s is not supported by the engine" % meta.runner_type}

    def render_default(self, value: Any, context: Optional[Dict[str, Any]] = None) -> Any:
        """Render `{{ config_context.x }}`, `{{ st2kv.system.x }}` and `{{ action_context.x }}`
        (the execution's context: `api_user`, `user`, `source_channel` from chat) in defaults."""
        if not isinstance(value, str) or "{{" not in value:
            return value
        from engine import rendering
        return rendering.render_value(value, {"config_context": self.config,
                                              "action_context": dict(context or {})},
                                      self.store)

    def action_class(self, meta: ActionMeta) -> type:
        path = meta.entry_path
        if path not in self._classes:
            self._classes[path] = load_action_class(path, meta.name)
        return self._classes[path]

    def _run_python(self, meta: ActionMeta, execution: Execution) -> (str, Any):
        if isolation.enabled():
            status, result = self._run_python_isolated(meta, execution)
        else:
            status, result = self._run_python_in_process(meta, execution)
        if status == SUCCEEDED and meta.output_schema:
            problem = output_schema_problem(meta.output_schema, result.get("result"))
            if problem:
                self.output_warnings.append("%s: output does not match output_schema: %s"
                                            % (meta.ref, problem))
        return status, result

    def _run_python_isolated(self, meta: ActionMeta, execution: Execution) -> (str, Any):
        """In a patched child process (see engine/isolation.py)."""
        params = {k: v for k, v in execution.parameters.items()
                  if k not in param_utils.RUNNER_PARAMETERS["python-script"]}
        request = {"entry_path": meta.entry_path, "name": meta.name,
                   "actions_dir": self.pack.actions_dir, "config": self.config,
                   "parameters": params,
                   "env": st2api.action_environment(execution, self.pack.name)}
        services: Dict[str, ActionService] = {}

        def datastore(owner: str) -> ActionService:
            if owner not in services:
                services[owner] = ActionService(self.store, self.pack.name, owner)
            return services[owner]

        def st2api_call(manager: str, method: str, args: List[Any],
                        kwargs: Dict[str, Any]) -> Any:
            return st2api.serve_call(self, manager, method, args, kwargs)

        host = isolation.Host(self.now, self.sleep, datastore, st2api_call)
        return isolation.run_action(request, host, execution.parameters.get("timeout"))

    def _run_python_in_process(self, meta: ActionMeta, execution: Execution) -> (str, Any):
        cls = self.action_class(meta)
        service = ActionService(self.store, self.pack.name, cls.__name__)
        action = cls(config=copy.deepcopy(self.config), action_service=service)
        params = {k: v for k, v in execution.parameters.items()
                  if k not in param_utils.RUNNER_PARAMETERS["python-script"]}
        stdout, stderr = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), \
                    _environment(st2api.action_environment(execution, self.pack.name)):
                output = action.run(**params)
        except Exception as error:
            return FAILED, {"error": "%s: %s" % (type(error).__name__, error),
                            "traceback": traceback.format_exc(),
                            "stdout": stdout.getvalue(), "stderr": stderr.getvalue(),
                            "exit_code": 1, "result": None}
        status, value = python_result(output)
        return status, {"result": _plain(value), "stdout": stdout.getvalue(),
                        "stderr": stderr.getvalue(), "exit_code": 0 if status == SUCCEEDED else 1}

    def _run_workflow(self, meta: ActionMeta, execution: Execution) -> (str, Any):
        from engine import workflows
        options = {"sleep_fn": self.sleep}
        options.update(self.workflow_options)
        run = workflows.run_workflow(meta.entry_path, execution.parameters, self,
                                     context={"parent_execution": execution.id,
                                              "action": meta.ref}, **options)
        execution.log = run.tasks
        execution.workflow = run
        return run.status, run.result


def output_schema_problem(schema: Dict[str, Any], value: Any) -> Optional[str]:
    """A readable mismatch between a result and the action's output_schema, or None."""
    try:
        import jsonschema
    except ImportError:  # pragma: no cover
        return None
    if "type" not in schema and "properties" not in schema:
        schema = {"type": "object", "properties": schema}
    try:
        jsonschema.Draft4Validator(_without_flag_required(schema)).validate(_plain(value))
    except jsonschema.ValidationError as error:
        where = "/".join(str(part) for part in error.path)
        return "%s%s" % (error.message, " at " + where if where else "")
    except jsonschema.SchemaError as error:
        return "invalid output_schema: %s" % error.message
    return None


def _without_flag_required(schema: Any) -> Any:
    """Drop StackStorm's property-level `required: true` flags (not draft-4)."""
    if isinstance(schema, dict):
        return {key: _without_flag_required(value) for key, value in schema.items()
                if not (key == "required" and isinstance(value, bool))}
    if isinstance(schema, list):
        return [_without_flag_required(item) for item in schema]
    return schema


@contextlib.contextmanager
def _environment(values: Dict[str, str]):
    """Set environment variables for the duration of one action run."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _lib_clock_now() -> float:
    try:
        from lib import clock
    except ImportError:
        return time.time()
    return clock.now()


def lib_clock_sleep(seconds: float) -> None:
    """Sleep through the pack's clock seam (virtual under the engine); no-op without it."""
    try:
        from lib import clock
    except ImportError:
        return
    clock.sleep(seconds)


def load_action_class(path: str, name: str) -> type:
    """Import an action module by path and return its single Action subclass."""
    ensure_st2_importable()
    if not os.path.exists(path):
        raise PackError("entry point %s does not exist" % path)
    module_name = "_pack_actions.%s" % name
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    try:
        from st2common.runners.base_action import Action
    except ImportError:  # pragma: no cover - stand-in missing
        Action = None
    found = []
    for value in vars(module).values():
        if not isinstance(value, type) or value.__module__ != module.__name__:
            continue
        if Action is not None and issubclass(value, Action) and value is not Action:
            found.append(value)
        elif Action is None and callable(getattr(value, "run", None)):
            found.append(value)
    if len(found) != 1:
        raise PackError("%s must define exactly one Action subclass, found %d"
                        % (path, len(found)))
    return found[0]

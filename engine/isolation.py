"""Run the pack's Python actions and sensors as StackStorm does: in eventlet-patched processes.

One worker process per engine process (engine/worker.py) patches eventlet first, preloads the
pack's imports and forks a child per action execution (its own process and process group)
and one long-lived child per sensor. The engine serves each child over a socket pair
(engine/rpc.py) while it waits for it: virtual time (`lib.clock`), the datastore, st2client
calls, sensor dispatches and logs. Stdout and stderr of an action are files the engine reads
back; its exit status comes from the worker.

Timeout: an action may take `timeout` seconds (its runner parameter, StackStorm's default
600), counted as the virtual time it slept plus the wall time it ran on its own; then its
process group is killed and the execution is `timeout`, as in StackStorm.
`ENGINE_IN_PROCESS=1` runs everything in the engine's own process instead (debugging).
"""
import atexit
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from engine.rpc import Channel, ChannelClosed

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_TIMEOUT_S = 600.0
READY_TIMEOUT_S = 180.0
SENSOR_SETUP_TIMEOUT_S = 300.0
SENSOR_POLL_TIMEOUT_S = 600.0
IN_PROCESS_FLAG = "ENGINE_IN_PROCESS"
LOG = logging.getLogger(__name__)


def enabled() -> bool:
    """True unless ENGINE_IN_PROCESS=1 asks for the old in-process execution."""
    return os.environ.get(IN_PROCESS_FLAG, "").lower() not in ("1", "true", "yes")


class WorkerError(RuntimeError):
    """The worker process could not be started or stopped answering."""


class ActionTimeout(Exception):
    """The child used up its time budget."""


class Worker(object):
    """The patched worker process and its control channel."""

    def __init__(self, wait: bool = True) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "engine.worker", str(theirs.fileno())],
                pass_fds=[theirs.fileno()], cwd=REPO_DIR, stdin=subprocess.DEVNULL)
        finally:
            theirs.close()
        self.owner_pid = os.getpid()
        self.channel = Channel(ours)
        self.preload_errors: Optional[List[str]] = None
        if wait:
            self.ready()

    def ready(self) -> "Worker":
        """Wait until the worker has patched and preloaded (once)."""
        if self.preload_errors is None:
            try:
                hello = self.channel.recv(timeout=READY_TIMEOUT_S)
            except (socket.timeout, ChannelClosed) as error:
                self.close()
                raise WorkerError("the engine's worker process did not start: %s" % error) \
                    from error
            self.preload_errors = hello.get("preload_errors") or []
        return self

    def alive(self) -> bool:
        return self.owner_pid == os.getpid() and self.proc.poll() is None

    def _request(self, message: Dict[str, Any], fds: Sequence[int] = ()) -> Dict[str, Any]:
        try:
            self.channel.send(message, tuple(fds))
            return self.channel.recv(timeout=READY_TIMEOUT_S)
        except (socket.timeout, ChannelClosed, OSError) as error:
            raise WorkerError("the engine's worker process failed: %s" % error) from error

    def spawn(self, kind: str, request: Dict[str, Any], now: float,
              fds: Sequence[int]) -> int:
        """Fork a child that runs `request` (an action or a sensor); its pid."""
        reply = self._request({"op": "spawn", "kind": kind, "request": request, "now": now},
                              fds)
        return int(reply["pid"])

    def wait(self, pid: int, kill: bool = False) -> Optional[int]:
        """Reap a child (after killing its process group); exit status or -signal."""
        return self._request({"op": "wait", "pid": pid, "kill": kill}).get("status")

    def close(self) -> None:
        if self.owner_pid != os.getpid():
            return
        self.channel.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_shared: Optional[Worker] = None


def shared_worker(wait: bool = True) -> Worker:
    """The process-wide worker, (re)started when needed."""
    global _shared
    if _shared is None or not _shared.alive():
        _shared = Worker(wait=False)
        atexit.register(_shared.close)
    return _shared.ready() if wait else _shared


def prestart() -> None:
    """Start the worker now (it preloads while the caller does other work)."""
    if enabled():
        shared_worker(wait=False)


class Host(object):
    """What the engine serves a child: time, sleep, datastore, st2client, dispatch."""

    def __init__(self, now_fn: Callable[[], float], sleep_fn: Callable[[float], None],
                 datastore_fn: Callable[[str], Any],
                 st2api_fn: Optional[Callable[..., Any]] = None,
                 dispatch_fn: Optional[Callable[[str, Dict[str, Any], Optional[str]], None]]
                 = None) -> None:
        self.now = now_fn
        self.sleep = sleep_fn
        self.datastore_fn = datastore_fn
        self.st2api_fn = st2api_fn
        self.dispatch_fn = dispatch_fn

    def answer(self, message: Dict[str, Any], budget: Optional["Budget"]) -> Dict[str, Any]:
        op = message.get("op")
        if op == "sleep":
            seconds = max(0.0, float(message.get("seconds") or 0))
            if budget is not None and seconds >= budget.remaining():
                self.sleep(max(0.0, budget.remaining()))  # killed in the middle of its sleep
                raise ActionTimeout()
            self.sleep(seconds)
            return {"value": None}
        try:
            return {"value": self._serve(op, message)}
        except Exception as error:
            return {"error": {"type": type(error).__name__, "message": str(error),
                              "status": getattr(error, "status_code", None)}}

    def _serve(self, op: Any, message: Dict[str, Any]) -> Any:
        if op == "ds":
            service = self.datastore_fn(str(message.get("owner")))
            method = message.get("method")
            if method not in ("get_value", "set_value", "delete_value", "list_values"):
                raise ValueError("unknown datastore call %r" % method)
            value = getattr(service, method)(**(message.get("kwargs") or {}))
            if method == "list_values":
                return [{"name": i.name, "value": i.value,
                         "scope": getattr(i, "scope", "system"),
                         "expire_timestamp": getattr(i, "expire_timestamp", None)}
                        for i in value]
            return value
        if op == "st2api" and self.st2api_fn is not None:
            return self.st2api_fn(message["manager"], message["method"],
                                  message.get("args") or [], message.get("kwargs") or {})
        if op == "dispatch" and self.dispatch_fn is not None:
            self.dispatch_fn(message["trigger"], message.get("payload") or {},
                             message.get("trace_tag"))
            return None
        raise ValueError("the engine does not serve %r here" % op)


class Budget(object):
    """`limit_s` of virtual time slept plus wall time the child ran on its own."""

    def __init__(self, limit_s: float, now_fn: Callable[[], float]) -> None:
        self.limit_s = float(limit_s)
        self.now = now_fn
        self.start = now_fn()
        self.wall_s = 0.0

    def remaining(self) -> float:
        return self.limit_s - (self.now() - self.start) - self.wall_s


def serve(channel: Channel, host: Host, until: Tuple[str, ...],
          budget: Optional[Budget] = None, wall_timeout_s: Optional[float] = None
          ) -> Dict[str, Any]:
    """Answer the child's requests until it sends a message whose op is in `until`."""
    while True:
        timeout = budget.remaining() if budget is not None else wall_timeout_s
        if timeout is not None and timeout <= 0:
            raise ActionTimeout()
        started = time.monotonic()
        try:
            message = channel.recv(timeout=timeout)
        except socket.timeout as error:
            raise ActionTimeout() from error
        finally:
            if budget is not None:
                budget.wall_s += time.monotonic() - started
        op = message.get("op")
        if op in until:
            return message
        if op == "log":
            logging.getLogger(str(message.get("name") or "engine.child")).log(
                int(message.get("level") or logging.INFO), "%s", message.get("message"))
            continue
        reply = host.answer(message, budget)
        reply["now"] = host.now()
        channel.send(reply)


def run_action(request: Dict[str, Any], host: Host, timeout_s: Optional[float] = None,
               worker: Optional[Worker] = None) -> Tuple[str, Dict[str, Any]]:
    """Run one Python action in a patched child; (status, StackStorm-shaped result)."""
    limit = float(timeout_s) if timeout_s else DEFAULT_TIMEOUT_S
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    try:
        channel, pid, worker = _spawn("action", request, host, (out.fileno(), err.fileno()),
                                      worker)
        done: Optional[Dict[str, Any]] = None
        problem = ""
        try:
            done = serve(channel, host, ("done",), Budget(limit, host.now))
        except ActionTimeout:
            problem = "timeout"
        except ChannelClosed:
            problem = "lost"
        finally:
            channel.close()
        code = worker.wait(pid, kill=done is None)
        output = {"stdout": _read(out), "stderr": _read(err), "exit_code": code}
    finally:
        out.close()
        err.close()
    if problem == "timeout":
        return "timeout", dict(output, result=None, error="Action failed to complete in %s "
                               "seconds" % _seconds(limit))
    if done is None:
        return "failed", dict(output, result=None, error="the action's process exited "
                              "(status %s) without returning a result" % code)
    if done.get("error"):
        return "failed", dict(output, result=None, error=done["error"],
                              traceback=done.get("traceback", ""))
    return str(done["status"]), dict(output, result=done.get("result"))


def _spawn(kind: str, request: Dict[str, Any], host: Host, stdio: Tuple[int, int],
           worker: Optional[Worker]) -> Tuple[Channel, int, Worker]:
    ours, theirs = socket.socketpair()
    try:
        try:
            worker = worker or shared_worker()
            pid = worker.spawn(kind, request, host.now(), (theirs.fileno(),) + stdio)
        except WorkerError:  # the worker died (killed, out of memory): start a new one
            worker = shared_worker()
            pid = worker.spawn(kind, request, host.now(), (theirs.fileno(),) + stdio)
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    return Channel(ours), pid, worker


def _read(handle: Any) -> str:
    handle.seek(0)
    return handle.read().decode("utf-8", errors="replace")


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class SensorProcess(object):
    """One sensor hosted in its own patched child, polled by the engine."""

    def __init__(self, request: Dict[str, Any], host: Host,
                 worker: Optional[Worker] = None) -> None:
        self.host = host
        self.class_name = request.get("class_name", "")
        request = dict(request, log_level=logging.getLogger().getEffectiveLevel())
        stderr = sys.stderr.fileno() if hasattr(sys.stderr, "fileno") else 2
        self.channel, self.pid, self.worker = _spawn(
            "sensor", request, host, (stderr, stderr), worker)
        try:
            ready = serve(self.channel, host, ("ready",), wall_timeout_s=SENSOR_SETUP_TIMEOUT_S)
        except (ActionTimeout, ChannelClosed) as error:
            self.stop(kill=True)
            raise RuntimeError("sensor %s did not start: %s" % (
                self.class_name, type(error).__name__)) from error
        if ready.get("error"):
            self.stop(kill=True)
            raise RuntimeError("%s\n%s" % (ready["error"], ready.get("traceback", "")))
        self.interval = float(ready["interval"])
        self.polling = bool(ready.get("polling"))
        self.alive = True

    def poll(self) -> Optional[str]:
        """One poll(); the error it raised (the sensor keeps running), or None."""
        return self._command("poll", "polled")

    def stop(self, kill: bool = False) -> Optional[str]:
        """cleanup() and end the process (or just kill it)."""
        error = None
        if not kill and getattr(self, "alive", False):
            error = self._command("cleanup", "cleaned")
        self.alive = False
        self.channel.close()
        try:
            self.worker.wait(self.pid, kill=True)
        except WorkerError:
            pass
        return error

    def _command(self, op: str, answer: str) -> Optional[str]:
        if not self.alive:
            return "the sensor's process is not running"
        try:
            self.channel.send({"op": op, "now": self.host.now()})
            reply = serve(self.channel, self.host, (answer,),
                          wall_timeout_s=SENSOR_POLL_TIMEOUT_S)
        except (ActionTimeout, ChannelClosed) as error:
            self.stop(kill=True)
            return "the sensor's process %s: %s" % (
                "timed out" if isinstance(error, ActionTimeout) else "died", op)
        return reply.get("error")

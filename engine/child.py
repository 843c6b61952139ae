"""Inside a forked, eventlet-patched worker child: run one action, or host one sensor.

Everything the pack reaches of StackStorm goes back to the engine over the child's RPC
channel (engine/rpc.py): `lib.clock` (now is the engine's virtual time, carried on every
reply; sleep advances the engine), the datastore of `action_service` / `sensor_service`,
`sensor_service.dispatch`, st2client calls (engine/st2api.py) and, for sensors, log records.
Messages the child sends: `{"op": "sleep" | "ds" | "st2api" | "dispatch" | "log", ...}`;
the last one of an action is `{"op": "done", "status", "result", ...}`.
"""
import importlib
import logging
import os
import socket
import sys
import threading
import traceback
from typing import Any, Dict, List, Optional

from engine.datastore import SYSTEM_SCOPE, KeyValuePair
from engine.rpc import Channel

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULTS = {"local": True, "scope": SYSTEM_SCOPE, "decrypt": False, "encrypt": False,
            "ttl": None, "prefix": None}
SUCCEEDED = "succeeded"
FAILED = "failed"


class RemoteError(RuntimeError):
    """The engine failed to serve a request (the message says why)."""


def prepare_paths(actions_dir: str) -> None:
    """sys.path as an action sees it: the pack's actions dir, the st2 stand-ins, the repo."""
    from engine import actions, st2api

    if actions_dir not in sys.path:
        sys.path.insert(0, actions_dir)
    actions.ensure_st2_importable()
    st2api.activate(None)
    if REPO_DIR not in sys.path:
        sys.path.append(REPO_DIR)


class Remote(object):
    """The child's end of the RPC channel (green-thread safe: one request at a time)."""

    def __init__(self, channel: Channel, now: float) -> None:
        self.channel = channel
        self._now = float(now)
        self._lock = threading.Lock()

    def now(self) -> float:
        """The engine's virtual time: it moves only while the engine runs, i.e. in sleep()."""
        return self._now

    def call(self, op: str, **fields: Any) -> Any:
        fields["op"] = op
        with self._lock:
            self.channel.send(fields)
            reply = self.channel.recv()
        self.saw(reply)
        error = reply.get("error")
        if error:
            raise _error(error)
        return reply.get("value")

    def tell(self, op: str, **fields: Any) -> None:
        """A one-way message (no reply)."""
        fields["op"] = op
        with self._lock:
            self.channel.send(fields)

    def saw(self, message: Dict[str, Any]) -> None:
        if "now" in message:
            self._now = float(message["now"])

    def sleep(self, seconds: float) -> None:
        self.call("sleep", seconds=float(seconds))

    def st2api(self, manager: str, method: str, args: List[Any], kwargs: Dict[str, Any]) -> Any:
        return self.call("st2api", manager=manager, method=method, args=args, kwargs=kwargs)


def _error(error: Dict[str, Any]) -> Exception:
    kind = error.get("type")
    message = error.get("message", "")
    if kind == "ApiError":
        from engine.st2api import ApiError

        return ApiError(int(error.get("status") or 500), message)
    if kind in ("ValueError", "KeyError", "TypeError"):
        return {"ValueError": ValueError, "KeyError": KeyError, "TypeError": TypeError}[kind](
            message)
    return RemoteError("%s: %s" % (kind, message))


class RemoteDatastoreService(object):
    """StackStorm's datastore calls of action_service / sensor_service, served by the engine."""

    def __init__(self, remote: Remote, owner: str) -> None:
        self._remote = remote
        self._owner = owner

    def _call(self, method: str, **kwargs: Any) -> Any:
        """Forward the call; options left at their defaults are not sent (any service works)."""
        sent = {k: v for k, v in kwargs.items() if k not in DEFAULTS or v != DEFAULTS[k]}
        return self._remote.call("ds", owner=self._owner, method=method, kwargs=sent)

    def get_value(self, name: str, local: bool = True, scope: str = SYSTEM_SCOPE,
                  decrypt: bool = False) -> Optional[str]:
        return self._call("get_value", name=name, local=local, scope=scope, decrypt=decrypt)

    def set_value(self, name: str, value: str, ttl: Optional[int] = None, local: bool = True,
                  scope: str = SYSTEM_SCOPE, encrypt: bool = False) -> bool:
        return self._call("set_value", name=name, value=value, ttl=ttl, local=local,
                          scope=scope, encrypt=encrypt)

    def delete_value(self, name: str, local: bool = True, scope: str = SYSTEM_SCOPE) -> bool:
        return self._call("delete_value", name=name, local=local, scope=scope)

    def list_values(self, local: bool = True, prefix: Optional[str] = None,
                    scope: str = SYSTEM_SCOPE) -> List[KeyValuePair]:
        items = self._call("list_values", local=local, prefix=prefix, scope=scope)
        return [KeyValuePair(i["name"], i["value"], i["scope"], i["expire_timestamp"])
                for i in items]


class RemoteSensorService(RemoteDatastoreService):
    """sensor_service in the sensor's process: dispatch and logs go to the engine."""

    def get_logger(self, name: str) -> logging.Logger:
        return logging.getLogger("engine.sensor.%s.%s" % (self._owner, name))

    def dispatch(self, trigger: str, payload: Optional[Dict[str, Any]] = None,
                 trace_tag: Optional[str] = None) -> None:
        self._remote.call("dispatch", trigger=trigger, payload=payload or {},
                          trace_tag=trace_tag)

    def dispatch_with_context(self, trigger: str, payload: Optional[Dict[str, Any]] = None,
                              trace_context: Any = None) -> None:
        self.dispatch(trigger, payload, None)


class ForwardLogs(logging.Handler):
    """Send log records to the engine, which hands them to its own logging."""

    def __init__(self, remote: Remote) -> None:
        super(ForwardLogs, self).__init__()
        self.remote = remote

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + "".join(traceback.format_exception(*record.exc_info))
            self.remote.tell("log", name=record.name, level=record.levelno, message=text)
        except Exception:  # logging never breaks the sensor
            pass


def main(message: Dict[str, Any], fds: List[int]) -> int:
    """Entry point after the fork: fresh hub, own process group, stdio, RPC; run it."""
    import eventlet.hubs

    os.setpgid(0, 0)
    eventlet.hubs.use_hub()  # never share the worker's hub (if any) across the fork
    rpc_fd, out_fd, err_fd = fds[:3]
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    os.close(out_fd)
    os.close(err_fd)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, fileno=rpc_fd)
    remote = Remote(Channel(sock), message.get("now", 0.0))
    request = message["request"]
    _use_pack(request["actions_dir"])
    os.environ.update(request.get("env") or {})
    from engine import st2api
    from lib import clock

    clock.set_time_source(remote.now, remote.sleep)
    st2api.use_remote(remote.st2api)
    if message["kind"] == "sensor":
        return host_sensor(remote, request)
    return run_action(remote, request)


def _use_pack(actions_dir: str) -> None:
    """The pack's actions dir first; a pack with its own `lib` replaces the preloaded one."""
    own_lib = os.path.join(actions_dir, "lib")
    loaded = sys.modules.get("lib")
    if os.path.isdir(own_lib) and loaded is not None and \
            os.path.dirname(os.path.abspath(loaded.__file__ or "")) != own_lib:
        for name in [n for n in sys.modules if n == "lib" or n.startswith("lib.")]:
            del sys.modules[name]
    if actions_dir in sys.path:
        sys.path.remove(actions_dir)
    sys.path.insert(0, actions_dir)
    prepare_paths(actions_dir)
    importlib.invalidate_caches()


def run_action(remote: Remote, request: Dict[str, Any]) -> int:
    """Load the action class, run it, send `done`; exit status 0 when it succeeded."""
    from engine.actions import _plain, load_action_class, python_result

    try:
        cls = load_action_class(request["entry_path"], request["name"])
        service = RemoteDatastoreService(remote, cls.__name__)
        action = cls(config=request.get("config") or {}, action_service=service)
        output = action.run(**(request.get("parameters") or {}))
        status, value = python_result(output)
        done = {"status": status, "result": _plain(value)}
    except Exception as error:
        status = FAILED
        done = {"status": status, "error": "%s: %s" % (type(error).__name__, error),
                "traceback": traceback.format_exc()}
    sys.stdout.flush()
    sys.stderr.flush()
    remote.tell("done", **done)
    return 0 if status == SUCCEEDED else 1


def host_sensor(remote: Remote, request: Dict[str, Any]) -> int:
    """Instantiate and set up the sensor, then poll it whenever the engine says so."""
    root = logging.getLogger()
    root.addHandler(ForwardLogs(remote))
    root.setLevel(int(request.get("log_level") or logging.WARNING))
    sensors_dir = os.path.dirname(request["entry_path"])
    if sensors_dir not in sys.path:
        sys.path.insert(0, sensors_dir)
    from engine.sensors import _interval_of, _load_class

    try:
        cls = _load_class(request["entry_path"], request["class_name"])
        service = RemoteSensorService(remote, request["class_name"])
        interval = float(request["poll_interval"])
        try:
            instance = cls(sensor_service=service, config=request.get("config") or {},
                           poll_interval=interval)
        except TypeError:  # a passive Sensor
            instance = cls(sensor_service=service, config=request.get("config") or {})
        instance.setup()
        ready = {"interval": float(_interval_of(instance, interval)),
                 "polling": hasattr(instance, "poll")}
    except Exception as error:
        remote.tell("ready", error="%s: %s" % (type(error).__name__, error),
                    traceback=traceback.format_exc())
        return 1
    remote.tell("ready", **ready)
    while True:
        command = remote.channel.recv()
        remote.saw(command)
        op = command.get("op")
        answer = {"poll": "polled", "cleanup": "cleaned"}.get(op, "unknown")
        try:
            if op == "poll":
                instance.poll()
            elif op == "cleanup":
                instance.cleanup()
        except Exception as error:  # StackStorm logs it and keeps polling
            logging.getLogger("engine.sensor").exception("sensor %s %s failed",
                                                         request["class_name"], op)
            remote.tell(answer, error="%s: %s" % (type(error).__name__, error))
        else:
            remote.tell(answer)
        if op == "cleanup":
            return 0

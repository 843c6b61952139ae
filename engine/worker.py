"""The engine's worker process: eventlet-patched first, then a fork per action or sensor.

StackStorm runs every Python action in a process of its own and every sensor in the sensor
container, both monkey-patched by eventlet before any pack code loads
(st2common.util.monkey_patch: os, select, socket, thread, time). This process does the
same patching as its very first act, preloads the heavy modules the pack imports
(kubernetes, requests, yaml, the pack's `lib`), then waits on its control socket:

- `{"op": "spawn", ...}` + descriptors (RPC socket, stdout, stderr): fork a child that runs
  the action or hosts the sensor (engine/child.py); reply `{"pid": pid}`.
- `{"op": "wait", "pid": p, "kill": bool}`: optionally kill the child's process group, reap
  it, reply `{"status": exit status or -signal}`.

The worker itself does its I/O with eventlet's saved original modules, so no eventlet hub
exists before a fork; each child starts a fresh hub. Run by engine/isolation.py as
`python -m engine.worker <control fd>`.
"""
import sys
import warnings

# dnspython (imported by eventlet) warns that cryptography dropped Python 3.8
warnings.filterwarnings("ignore", message=".*Python 3.8 is no longer supported.*")


def monkey_patch() -> None:
    """What st2common.util.monkey_patch.monkey_patch() does (thread patched too)."""
    import socket

    import eventlet
    from eventlet.green import ssl

    eventlet.monkey_patch(os=True, select=True, socket=True, thread=True, time=True)
    ssl.timeout_exc = socket.timeout


if __name__ == "__main__":
    monkey_patch()

import gc  # noqa: E402
import importlib  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import traceback  # noqa: E402
from typing import Any, Dict, List  # noqa: E402

from engine.rpc import Channel, ChannelClosed  # noqa: E402

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRELOAD = ("yaml", "jsonschema", "requests", "urllib3", "kubernetes.client",
           "kubernetes.config", "kubernetes.watch", "prometheus_api_client.prometheus_connect",
           "nats", "engine.child")
# Caches worth filling once before forking: (module, function called without arguments).
WARM = (("lib.config", "load_schema"),)


def _original(name: str) -> Any:
    import eventlet.patcher

    return eventlet.patcher.original(name)


def preload(repo_dir: str = REPO_DIR) -> List[str]:
    """Import what actions and the sensor import, so each fork starts warm; returns errors."""
    from engine import child

    child.prepare_paths(os.path.join(repo_dir, "actions"))
    errors = []
    names = list(PRELOAD) + ["st2common.runners.base_action", "st2reactor.sensor.base"]
    lib_dir = os.path.join(repo_dir, "actions", "lib")
    for base, _dirs, files in sorted(os.walk(lib_dir)):
        package = "lib" + base[len(lib_dir):].replace(os.sep, ".")
        names.extend(package + ("" if f == "__init__.py" else "." + f[:-3])
                     for f in sorted(files) if f.endswith(".py"))
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as error:  # an optional module: the action reports it if it needs it
            errors.append("%s: %s: %s" % (name, type(error).__name__, error))
    for module, function in WARM:
        try:
            getattr(importlib.import_module(module), function)()
        except Exception as error:
            errors.append("%s.%s(): %s: %s" % (module, function, type(error).__name__, error))
    return errors


def exit_code(status: int) -> int:
    """A waitpid status as subprocess reports it: the exit code, or -signal."""
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def serve(control: Channel) -> None:
    """Answer spawn/wait requests until the engine closes the control socket."""
    real_os = _original("os")
    while True:
        try:
            message, fds = control.recv_with_fds()
        except ChannelClosed:
            return
        op = message.get("op")
        if op == "spawn":
            pid = real_os.fork()
            if pid == 0:
                _run_child(control, message, fds)
            for fd in fds:
                real_os.close(fd)
            control.send({"pid": pid})
        elif op == "wait":
            pid = int(message["pid"])
            if message.get("kill"):
                _kill_group(real_os, pid)
            try:
                _, status = real_os.waitpid(pid, 0)
                control.send({"status": exit_code(status)})
            except ChildProcessError:
                control.send({"status": None})
        else:
            control.send({"error": "unknown op %r" % op})


def _kill_group(real_os: Any, pid: int) -> None:
    for kill in (lambda: real_os.killpg(pid, signal.SIGKILL),
                 lambda: real_os.kill(pid, signal.SIGKILL)):
        try:
            kill()
            return
        except (ProcessLookupError, PermissionError):
            continue


def _run_child(control: Channel, message: Dict[str, Any], fds: List[int]) -> None:
    """In the forked child: run it, never return into the worker's loop."""
    code = 70
    try:
        control.close()
        from engine import child

        code = child.main(message, fds)
    except BaseException:  # the child must not fall back into the worker loop
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def main(argv: List[str]) -> int:
    fd = int(argv[1])
    control = Channel(_original("socket").socket(fileno=fd))
    errors = preload()
    gc.collect()
    gc.freeze()  # children's collections skip the preloaded heap: no copy-on-write storm
    control.send({"ready": True, "pid": os.getpid(), "preload_errors": errors})
    serve(control)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

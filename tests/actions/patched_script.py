"""Run one pack action eventlet-patched in this interpreter (see patched.run_script).

stdin: {"name", "config", "params", "busy_asyncio_loop"}; stdout: one JSON line
{"patched", "ok", "result"} or {"patched", "exception", "traceback"}.
"""
import sys

if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore", message=".*Python 3.8 is no longer supported.*")
    import eventlet

    eventlet.monkey_patch(os=True, select=True, socket=True, thread=True, time=True)

import asyncio  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import threading  # noqa: E402
import traceback  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def busy_loop(stop: threading.Event) -> threading.Thread:
    """An asyncio loop running in another (green) thread, as st2tests' NATS listener."""
    started = threading.Event()

    async def spin() -> None:
        started.set()
        while not stop.is_set():
            await asyncio.sleep(0.01)

    thread = threading.Thread(target=lambda: asyncio.run(spin()), daemon=True)
    thread.start()
    started.wait(5)
    return thread


def main() -> int:
    import eventlet.patcher

    request = json.loads(sys.stdin.read())
    sys.path[:0] = [os.path.join(REPO, "actions"), REPO]
    from engine.standin import use_standin
    use_standin()
    stop = threading.Event()
    if request.get("busy_asyncio_loop"):
        busy_loop(stop)
    out = {"patched": eventlet.patcher.is_monkey_patched("socket")}
    try:
        module = importlib.import_module(request["name"])
        from st2common.runners.base_action import Action

        cls = [v for v in vars(module).values() if isinstance(v, type) and
               issubclass(v, Action) and v.__module__ == module.__name__][0]
        output = cls(config=request["config"]).run(**request["params"])
        ok, result = output if isinstance(output, tuple) else (True, output)
        out.update(ok=ok, result=result)
    except Exception as error:
        out.update(exception="%s: %s" % (type(error).__name__, error),
                   traceback=traceback.format_exc())
    finally:
        stop.set()
    sys.stdout.write("\n" + json.dumps(out, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

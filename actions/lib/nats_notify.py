"""Publish JSON messages on NATS with nats-py; a down server is reported, never raised.

nats-py is asyncio. Under eventlet's monkey-patching (StackStorm patches every action and
the sensor) green threads share one OS thread, so an event loop running in any of them makes
`asyncio.run()` fail ("cannot be called from a running event loop"). When patched, the
publishing loop therefore runs in a real OS thread (eventlet's saved original `threading`);
unpatched, it runs right here.
"""
import asyncio
import json
import sys
from typing import Any, Dict, List, Optional, Tuple


async def _publish_all(url: str, messages: List[Tuple[str, Dict[str, Any]]],
                       connect_timeout_s: float) -> Dict[str, str]:
    import nats

    failures: Dict[str, str] = {}
    try:
        conn = await asyncio.wait_for(
            nats.connect(url, connect_timeout=connect_timeout_s, allow_reconnect=False,
                         max_reconnect_attempts=0),
            timeout=connect_timeout_s + 1)
    except Exception as error:  # unreachable, refused, timeout, bad URL
        reason = "cannot connect to %s: %s" % (url, type(error).__name__ + (
            ": %s" % error if str(error) else ""))
        return {subject: reason for subject, _ in messages}
    try:
        for subject, message in messages:
            try:
                await conn.publish(subject, json.dumps(message, sort_keys=True).encode())
            except Exception as error:
                failures[subject] = "%s: %s" % (type(error).__name__, error)
        try:
            await asyncio.wait_for(conn.flush(), timeout=connect_timeout_s)
        except Exception as error:
            for subject, _ in messages:
                failures.setdefault(subject, "flush failed: %s" % type(error).__name__)
    finally:
        try:
            await asyncio.wait_for(conn.close(), timeout=connect_timeout_s)
        except Exception:  # closing a broken connection is not a failure of the message
            pass
    return failures


def publish(url: str, messages: List[Tuple[str, Dict[str, Any]]],
            connect_timeout_s: float = 3.0) -> Dict[str, str]:
    """Publish every (subject, message); return {subject: error} for those that failed."""
    if not messages:
        return {}
    if not _patched():
        return asyncio.run(_publish_all(url, messages, connect_timeout_s))
    return _in_os_thread(url, messages, connect_timeout_s)


def _patched() -> bool:
    patcher = sys.modules.get("eventlet.patcher")
    return bool(patcher and (patcher.is_monkey_patched("thread") or
                             patcher.is_monkey_patched("socket")))


def _in_os_thread(url: str, messages: List[Tuple[str, Dict[str, Any]]],
                  connect_timeout_s: float) -> Dict[str, str]:
    """Run the publishing loop in a real thread; wait for it without blocking the hub."""
    import eventlet
    from eventlet import patcher

    outcome: Dict[str, Any] = {}

    def work() -> None:
        loop = asyncio.new_event_loop()  # this thread's own loop (and eventlet hub)
        try:
            outcome["failures"] = loop.run_until_complete(
                _publish_all(url, messages, connect_timeout_s))
        except BaseException as error:  # reported below, in the caller's thread
            outcome["error"] = error
        finally:
            loop.close()

    thread = patcher.original("threading").Thread(target=work, name="nats-publish",
                                                  daemon=True)
    thread.start()
    deadline = 3 * connect_timeout_s + 5 * (len(messages) + 1)
    waited = 0.0
    while thread.is_alive() and waited < deadline:
        eventlet.sleep(0.01)  # a green sleep: the process's other green threads keep running
        waited += 0.01
    if thread.is_alive():
        reason = "publishing did not finish within %.0f s" % deadline
        return {subject: reason for subject, _ in messages}
    error: Optional[BaseException] = outcome.get("error")
    if error is not None:
        raise error
    return outcome["failures"]

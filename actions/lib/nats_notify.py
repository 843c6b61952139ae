"""Publish JSON messages on NATS with nats-py; a down server is reported, never raised."""
import asyncio
import json
from typing import Any, Dict, List, Tuple


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
    return asyncio.run(_publish_all(url, messages, connect_timeout_s))

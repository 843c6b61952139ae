"""Watch streams: chunked JSON lines, timeouts, bookmarks, dropped clients.
"""
import json
import time
from typing import Optional

from twin.apiserver.request import Request, _flag
from twin.faults import Fault
from twin.store import Gone

DEFAULT_WATCH_TIMEOUT_S = 1800


class WatchVerb:
    """The watch verb (watch=true) over a store Watch."""

    # ----------------------------------------------------------------- watch
    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _watch(self, req: Request, fault: Optional[Fault]) -> None:
        q = req.query
        timeout = float(q.get("timeoutSeconds") or DEFAULT_WATCH_TIMEOUT_S)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        try:
            w = self.api.store.watch(req.rt.plural, req.namespace or None,
                                     q.get("resourceVersion"), q.get("labelSelector"),
                                     q.get("fieldSelector"))
        except Gone as exc:
            self._chunk(json.dumps({"type": "ERROR", "object": exc.status()}).encode() + b"\n")
            self._chunk(b"")
            return
        drop_events = fault.drop_after_events if fault is not None else None
        drop_at = (time.monotonic() + fault.drop_after_s
                   if fault is not None and fault.drop_after_s is not None else None)
        deadline = time.monotonic() + timeout
        bookmarks = _flag(q.get("allowWatchBookmarks"))
        next_bookmark = time.monotonic() + self.api.bookmark_interval_s
        sent = 0
        try:
            while not self.api.stopping:
                now = time.monotonic()
                if now >= deadline:
                    break
                if bookmarks and now >= next_bookmark:
                    next_bookmark = now + self.api.bookmark_interval_s
                    mark = {"type": "BOOKMARK", "object": {
                        "kind": req.rt.kind, "apiVersion": req.rt.api_version,
                        "metadata": {"resourceVersion": self.api.store.resource_version}}}
                    self._chunk(json.dumps(mark, separators=(",", ":")).encode() + b"\n")
                if drop_at is not None and now >= drop_at:
                    return self._drop()
                wait = min(deadline - now, 0.5)
                if bookmarks:
                    wait = max(min(wait, next_bookmark - now), 0.01)
                item = w.next_entry(wait)
                if item is None:
                    if w.closed:  # overflowed: end the stream, the client re-lists
                        break
                    continue
                etype, entry = item
                self._chunk(b'{"type":"%s","object":%s}\n' % (etype.encode(), entry.json))
                sent += 1
                if drop_events is not None and sent >= drop_events:
                    return self._drop()
            self._chunk(b"")
        finally:
            w.stop()

    def _drop(self) -> None:
        """Cut the stream without the closing chunk, like a dropped connection."""
        self.close_connection = True
        self.wfile.flush()
        try:
            import socket
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

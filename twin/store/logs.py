"""Container logs kept per pod and container (current and previous).
"""
import collections
from typing import Optional

from twin.store.errors import BadRequest

LOG_LINES_LIMIT = 5000


class StoreLogs:
    """Appending, rotating and reading pod logs."""

    # ----------------------------------------------------------------- logs
    def append_log(self, namespace: str, pod: str, text: str,
                   container: Optional[str] = None) -> None:
        """Append text (one or more lines) to a container's current log."""
        container = container or self._default_container(namespace, pod)
        with self._lock:
            buf = self._logs.setdefault((namespace, pod, container), {
                "current": collections.deque(maxlen=LOG_LINES_LIMIT),
                "previous": collections.deque(maxlen=LOG_LINES_LIMIT)})
            for line in text.splitlines(True):
                buf["current"].append(line if line.endswith("\n") else line + "\n")

    def rotate_log(self, namespace: str, pod: str, container: Optional[str] = None) -> None:
        """Container restarted: the current log becomes the previous one."""
        container = container or self._default_container(namespace, pod)
        with self._lock:
            buf = self._logs.get((namespace, pod, container))
            if buf is not None:
                buf["previous"] = buf["current"]
                buf["current"] = collections.deque(maxlen=LOG_LINES_LIMIT)

    def read_log(self, namespace: str, pod: str, container: Optional[str] = None,
                 previous: bool = False, tail_lines: Optional[int] = None,
                 limit_bytes: Optional[int] = None) -> str:
        """The log text as pods/log serves it. NotFound/BadRequest like the real server."""
        with self._lock:
            obj = self._entry("pods", namespace, pod).obj
            names = [c.get("name") for c in (obj.get("spec") or {}).get("containers") or []]
            if container is None:
                if len(names) != 1:
                    raise BadRequest("a container name must be specified for pod %s, choose one "
                                     "of: [%s]" % (pod, " ".join(n or "" for n in names)))
                container = names[0]
            elif container not in names:
                raise BadRequest("container %s is not valid for pod %s" % (container, pod))
            buf = self._logs.get((namespace, pod, container or ""))
            if previous and (buf is None or not buf["previous"]):
                raise BadRequest('previous terminated container "%s" in pod "%s" not found'
                                 % (container, pod))
            lines = list(buf["previous" if previous else "current"]) if buf else []
        if tail_lines is not None:
            lines = lines[-tail_lines:] if tail_lines > 0 else []
        text = "".join(lines)
        if limit_bytes is not None:
            text = text.encode()[:limit_bytes].decode("utf-8", "ignore")
        return text

    def _default_container(self, namespace: str, pod: str) -> str:
        with self._lock:
            obj = self._entry("pods", namespace, pod).obj
            containers = (obj.get("spec") or {}).get("containers") or [{}]
            return containers[0].get("name", "")

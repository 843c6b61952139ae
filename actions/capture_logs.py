"""Capture a pod's logs (current and previous container), size-bounded, for the incident."""
from typing import Any, Dict

from lib.base_action import SelfHealingAction, require
from lib.kube import KubeError


class CaptureLogs(SelfHealingAction):
    def execute(self, namespace: str = "", pod: str = "", container: str = "",
                tail_lines: int = 200, max_bytes: int = 65536, previous: bool = True):
        require(namespace, "namespace")
        require(pod, "pod")
        pod_obj = self.kube.call(self.kube.core.read_namespaced_pod, pod, namespace)
        names = [c.name for c in pod_obj.spec.containers or []]
        if not container:
            labels = pod_obj.metadata.labels or {}
            container = labels.get("app") if labels.get("app") in names else (
                names[0] if names else "")
        restarts = 0
        last_state: Dict[str, Any] = {}
        for status in (pod_obj.status.container_statuses or []) if pod_obj.status else []:
            if status.name == container:
                restarts = int(status.restart_count or 0)
                term = status.last_state.terminated if status.last_state else None
                if term is not None:
                    last_state = {"reason": term.reason or "", "exit_code": term.exit_code,
                                  "finished_at": str(term.finished_at or "")}
        logs = {"current": self._read(namespace, pod, container, tail_lines, max_bytes, False)}
        if previous:
            logs["previous"] = self._read(namespace, pod, container, tail_lines, max_bytes, True)
        return {"namespace": namespace, "pod": pod, "container": container,
                "containers": names, "restarts": restarts, "last_terminated": last_state,
                "tail_lines": tail_lines, "max_bytes": max_bytes, "logs": logs}

    def _read(self, namespace: str, pod: str, container: str, tail_lines: int, max_bytes: int,
              previous: bool) -> Dict[str, Any]:
        try:
            # limitBytes would cut the end (where a crash is explained); tail_lines bounds the
            # transfer and `bounded` keeps the last max_bytes.
            text = self.kube.call(
                self.kube.core.read_namespaced_pod_log, pod, namespace,
                container=container or None, tail_lines=tail_lines or None, previous=previous)
        except KubeError as error:
            # 400 = no previous container (never restarted), 404 = pod/container gone
            return {"available": False, "text": "", "bytes": 0, "truncated": False,
                    "error": str(error)}
        return bounded(text or "", max_bytes)


def bounded(text: str, max_bytes: int) -> Dict[str, Any]:
    """Keep the last `max_bytes` bytes of `text` (on a line boundary when possible)."""
    data = text.encode("utf-8", "replace")
    truncated = bool(max_bytes) and len(data) > max_bytes
    if truncated:
        data = data[-max_bytes:]
        cut = data.find(b"\n")
        if 0 <= cut < len(data) - 1:
            data = data[cut + 1:]
    return {"available": True, "text": data.decode("utf-8", "replace"), "bytes": len(data),
            "truncated": truncated, "error": ""}

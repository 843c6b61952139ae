"""JSON helpers over StackStorm's datastore, shared by sensors and actions.

Wraps `sensor_service` or `action_service` (both offer get_value/set_value/delete_value/
list_values). Every key lives in the global scope (`local=False`) under `self_healing.` so
sensors and actions see the same records.
"""
import json
from typing import Any, Dict, Optional

from lib.catalogue import target_key

__all__ = ["PREFIX", "Datastore", "full_key", "target_key"]

PREFIX = "self_healing."


def full_key(key: str) -> str:
    """The datastore name of a key; `kill_switch` and `self_healing.kill_switch` are the same."""
    return key if key.startswith(PREFIX) else PREFIX + key


class Datastore(object):
    """Stores and reads JSON documents through a StackStorm datastore service."""

    def __init__(self, service: Any) -> None:
        self._service = service

    def get_raw(self, key: str) -> Optional[str]:
        """The stored string, or None."""
        return self._service.get_value(full_key(key), local=False)

    def get_json(self, key: str, default: Any = None) -> Any:
        """The decoded JSON value, or `default` when absent or not valid JSON."""
        raw = self.get_raw(key)
        if raw is None or raw == "":
            return default
        try:
            return json.loads(raw)
        except (TypeError, ValueError):
            return default

    def set_json(self, key: str, obj: Any, ttl: Optional[int] = None) -> None:
        """Store `obj` as JSON; `ttl` seconds (None = keep forever)."""
        value = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
        if ttl is not None:
            ttl = max(1, int(ttl))
        self._service.set_value(full_key(key), value, ttl=ttl, local=False)

    def delete(self, key: str) -> bool:
        """Remove a key; True when it existed."""
        return bool(self._service.delete_value(full_key(key), local=False))

    def list_json(self, prefix: str) -> Dict[str, Any]:
        """All keys under `prefix`, as {full datastore name: decoded value} (bad JSON skipped)."""
        items = self._service.list_values(local=False, prefix=full_key(prefix)) or []
        result = {}  # type: Dict[str, Any]
        for item in items:
            name, raw = _name_and_value(item)
            try:
                result[name] = json.loads(raw)
            except (TypeError, ValueError):
                continue
        return result


def _name_and_value(item: Any):
    """KeyValuePair objects (real StackStorm and its mocks) or plain dicts."""
    if isinstance(item, dict):
        return item.get("name"), item.get("value")
    return getattr(item, "name", None), getattr(item, "value", None)

"""Stored entries (an object and its cached JSON), copies, timestamps and list queries.
"""
import datetime
import json
import pickle
import re
from typing import Any, Dict, Optional, Tuple

from twin import resources, selectors
from twin.store.errors import BadRequest

Key = Tuple[str, str]  # (namespace, name)


# --------------------------------------------------------------------------- helpers
def copy_obj(obj: Any) -> Any:
    """Fast deep copy of a JSON-like value."""
    return pickle.loads(pickle.dumps(obj, -1))


def iso(epoch: float) -> str:
    """Epoch seconds -> RFC 3339 with Z (the API's timestamp format)."""
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


class Entry:
    """A stored object plus its lazily cached JSON encoding (objects are never edited)."""

    __slots__ = ("obj", "_json")

    def __init__(self, obj: Dict[str, Any]) -> None:
        self.obj = obj
        self._json: Optional[bytes] = None

    @property
    def json(self) -> bytes:
        if self._json is None:
            self._json = json.dumps(self.obj, separators=(",", ":")).encode()
        return self._json


class _Query:
    """A parsed list/watch filter."""

    def __init__(self, resource: str, namespace: Optional[str], label_selector: Optional[str],
                 field_selector: Optional[str]) -> None:
        try:
            self.labels = selectors.parse_labels(label_selector)
            self.fields = selectors.parse_fields(field_selector)
        except selectors.SelectorError as exc:
            raise BadRequest(str(exc)) from None
        rt = resources.RESOURCES.get(resource)
        for path, _op, _v in self.fields:
            if rt is not None and path not in rt.fields:
                raise BadRequest('field label not supported: %s' % path)
        self.namespace = namespace or None

    def matches(self, obj: Dict[str, Any]) -> bool:
        md = obj.get("metadata") or {}
        if self.namespace is not None and md.get("namespace", "") != self.namespace:
            return False
        if self.labels and not selectors.match_labels(self.labels, md.get("labels")):
            return False
        return not self.fields or selectors.match_fields(self.fields, obj)

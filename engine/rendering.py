"""Jinja rendering as StackStorm does for rule action parameters and parameter defaults."""
import json
from typing import Any, Dict, Optional

import jinja2

from engine import expressions


class KeyValueLookup(object):
    """`{{ st2kv.system.a.b }}`: dotted names resolved against one datastore scope."""

    def __init__(self, store: Any, scope: str, prefix: str = "") -> None:
        self._store = store
        self._scope = scope
        self._prefix = prefix
        self._value = store.get_value(prefix, scope) if (prefix and store is not None) else None

    def _child(self, name: str) -> "KeyValueLookup":
        key = "%s.%s" % (self._prefix, name) if self._prefix else name
        return KeyValueLookup(self._store, self._scope, key)

    def __getattr__(self, name: str) -> "KeyValueLookup":
        if name.startswith("__"):
            raise AttributeError(name)
        return self._child(name)

    def __getitem__(self, name: str) -> "KeyValueLookup":
        return self._child(name)

    def __str__(self) -> str:
        return self._value if self._value is not None else ""

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: Any) -> bool:
        return str(self) == other

    def __hash__(self) -> int:
        return hash(str(self))


def _to_human_time(seconds: Any) -> str:
    seconds = int(float(seconds))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append("%d%s" % (seconds // size, unit))
            seconds %= size
    if seconds or not parts:
        parts.append("%ds" % seconds)
    return "".join(parts)


FILTERS = {
    "to_json_string": lambda v, indent=None, sort_keys=False: json.dumps(
        v, indent=indent, sort_keys=sort_keys, default=str),
    "json_dump": lambda v: json.dumps(v, default=str),
    "from_json_string": json.loads,
    "json_parse": json.loads,
    "json_escape": lambda v: json.dumps(str(v))[1:-1],
    "to_yaml_string": expressions.to_yaml_string,
    "regex_match": expressions.regex_match,
    "regex_search": expressions.regex_search,
    "regex_replace": expressions.regex_replace,
    "use_none": expressions.use_none,
    "to_human_time_from_seconds": _to_human_time,
}


def environment() -> jinja2.Environment:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters.update(FILTERS)
    return env


_ENV = environment()


def base_context(store: Any, extra: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    context = {"st2kv": {"system": KeyValueLookup(store, "system"),
                         "user": KeyValueLookup(store, "user")}}
    context.update(extra or {})
    return context


def render_value(value: Any, context: Dict[str, Any], store: Any = None) -> Any:
    """Render strings (recursively in lists/dicts); other values unchanged."""
    full = base_context(store, context)
    return _render(value, full)


def _render(value: Any, context: Dict[str, Any]) -> Any:
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            return value
        return _ENV.from_string(value).render(context)
    if isinstance(value, list):
        return [_render(item, context) for item in value]
    if isinstance(value, dict):
        return {key: _render(item, context) for key, item in value.items()}
    return value

"""StackStorm's expression functions for orquesta (st2kv, JSON helpers), backed by the engine.

Registered through orquesta's plugin entry points (see `_plugins/`). `register()` must run before
`orquesta.expressions` is imported; `engine.workflows` calls it on import.
"""
import json
import os
import re
import sys
from typing import Any, Optional

import yaml

PLUGIN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_plugins")
_MISSING = object()
_active_store = None  # engine.datastore.Datastore used by st2kv


class ExpressionError(ValueError):
    """Raised for a failing st2 expression function (orquesta reports it as a task error)."""


def register() -> None:
    """Make the plugin distribution visible to stevedore (idempotent)."""
    if PLUGIN_DIR not in sys.path:
        sys.path.append(PLUGIN_DIR)
    loaded = sys.modules.get("orquesta.expressions.functions.base")
    catalog = getattr(loaded, "_EXP_FUNC_CATALOG", None) if loaded else None
    if catalog is not None and "st2kv" not in catalog:
        raise RuntimeError("orquesta loaded its functions before engine.expressions.register(); "
                           "import engine.workflows before orquesta.expressions")


def set_datastore(store: Any) -> None:
    """The datastore st2kv() reads (engine.datastore.Datastore)."""
    global _active_store
    _active_store = store


def lookup_key(key: str, default: Any = _MISSING) -> Any:
    """`system.name` or `user.name` from the active datastore."""
    scope, _, name = str(key).partition(".")
    if scope not in ("system", "user") or not name:
        raise ExpressionError('st2kv key must start with "system." or "user.": %r' % key)
    value = _active_store.get_value(name, scope) if _active_store is not None else None
    if value is None:
        if default is not _MISSING:
            return default
        raise ExpressionError('The key "%s" does not exist in the StackStorm datastore.' % key)
    return value


def st2kv_(context: Any, key: str, decrypt: bool = False, default: Any = _MISSING) -> Any:
    """st2kv('system.key'[, decrypt=false][, default=...])."""
    return lookup_key(key, default)


def to_json_string(value: Any, indent: Optional[int] = None, sort_keys: bool = False) -> str:
    return json.dumps(value, indent=indent, sort_keys=sort_keys, default=str)


def from_json_string(value: str) -> Any:
    return json.loads(value)


def to_yaml_string(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=False)


def regex_match(value: str, pattern: str) -> bool:
    return re.match(pattern, str(value)) is not None


def regex_search(value: str, pattern: str) -> bool:
    return re.search(pattern, str(value)) is not None


def regex_replace(value: str, pattern: str, replacement: str) -> str:
    return re.sub(pattern, replacement, str(value))


def use_none(value: Any) -> Any:
    return None if value is None else value

"""In-memory StackStorm datastore: system/user scopes, local (per class) names, TTL on a clock."""
import time
from typing import Callable, Dict, List, Optional

SYSTEM_SCOPE = "system"
USER_SCOPE = "user"
SEPARATOR = ":"


class KeyValuePair(object):
    """What StackStorm's datastore service returns from list_values."""

    def __init__(self, name: str, value: str, scope: str,
                 expire_timestamp: Optional[float]) -> None:
        self.name = name
        self.value = value
        self.scope = scope
        self.expire_timestamp = expire_timestamp

    def __repr__(self) -> str:
        return "KeyValuePair(%r, %r)" % (self.name, self.value)


class Datastore(object):
    """Key-value store; expired keys vanish when the clock passes their TTL."""

    def __init__(self, now_fn: Optional[Callable[[], float]] = None) -> None:
        self._now = now_fn or time.time
        self._items: Dict[tuple, KeyValuePair] = {}

    def set(self, name: str, value: str, ttl: Optional[float] = None,
            scope: str = SYSTEM_SCOPE) -> KeyValuePair:
        """Store a value; `ttl` seconds from now (None or 0 = forever)."""
        expire = self._now() + float(ttl) if ttl else None
        item = KeyValuePair(name, value, scope, expire)
        self._items[(scope, name)] = item
        return item

    def get(self, name: str, scope: str = SYSTEM_SCOPE) -> Optional[KeyValuePair]:
        """The live pair, or None (expired pairs are dropped)."""
        item = self._items.get((scope, name))
        if item is None:
            return None
        if self._expired(item):
            del self._items[(scope, name)]
            return None
        return item

    def get_value(self, name: str, scope: str = SYSTEM_SCOPE) -> Optional[str]:
        """The live value, or None."""
        item = self.get(name, scope)
        return item.value if item is not None else None

    def delete(self, name: str, scope: str = SYSTEM_SCOPE) -> bool:
        """Remove a key; True when a live key existed."""
        item = self.get(name, scope)
        if item is None:
            return False
        del self._items[(scope, name)]
        return True

    def list(self, prefix: str = "", scope: str = SYSTEM_SCOPE) -> List[KeyValuePair]:
        """Live pairs whose name starts with `prefix`, sorted by name."""
        self.purge()
        found = [item for (item_scope, name), item in self._items.items()
                 if item_scope == scope and name.startswith(prefix)]
        return sorted(found, key=lambda item: item.name)

    def purge(self) -> int:
        """Drop expired pairs; returns how many."""
        dead = [key for key, item in self._items.items() if self._expired(item)]
        for key in dead:
            del self._items[key]
        return len(dead)

    def snapshot(self, scope: str = SYSTEM_SCOPE) -> Dict[str, str]:
        """{name: value} of live pairs, for inspection."""
        return {item.name: item.value for item in self.list(scope=scope)}

    def _expired(self, item: KeyValuePair) -> bool:
        return item.expire_timestamp is not None and self._now() >= item.expire_timestamp


class DatastoreService(object):
    """The datastore half of StackStorm's action_service / sensor_service."""

    def __init__(self, store: Datastore, pack: str, class_name: str) -> None:
        self._store = store
        self._local_prefix = "%s.%s%s" % (pack, class_name, SEPARATOR)

    def _name(self, name: str, local: bool) -> str:
        return self._local_prefix + name if local else name

    def get_value(self, name: str, local: bool = True, scope: str = SYSTEM_SCOPE,
                  decrypt: bool = False) -> Optional[str]:
        return self._store.get_value(self._name(name, local), scope)

    def set_value(self, name: str, value: str, ttl: Optional[int] = None, local: bool = True,
                  scope: str = SYSTEM_SCOPE, encrypt: bool = False) -> bool:
        if ttl is not None and int(ttl) <= 0:
            raise ValueError("ttl must be a positive integer")
        self._store.set(self._name(name, local), value, ttl, scope)
        return True

    def delete_value(self, name: str, local: bool = True, scope: str = SYSTEM_SCOPE) -> bool:
        return self._store.delete(self._name(name, local), scope)

    def list_values(self, local: bool = True, prefix: Optional[str] = None,
                    scope: str = SYSTEM_SCOPE) -> List[KeyValuePair]:
        key_prefix = self._local_prefix if local else ""
        if prefix:
            key_prefix += prefix
        return self._store.list(key_prefix, scope)

"""Thread-safe in-memory object store behind the twin's Kubernetes API.

Objects are plain JSON dicts exactly as the API serves them. Keyed by resource plural
(`twin.resources.RESOURCES`: "pods", "nodes", "deployments", ...) and (namespace, name);
cluster-scoped objects use namespace "".

    store = Store(now_fn=clock.now, seed=1)
    store.create("nodes", {"metadata": {"name": "n1"}, "spec": {}, "status": {...}})
    store.create("pods", pod_dict, namespace="prod")          # namespace from metadata if set
    pod = store.get("pods", "prod", "web-1")                  # a private copy; NotFound
    items, rv = store.list("pods", namespace=None, label_selector="app=web",
                           field_selector="spec.nodeName=n1")  # copies; indexed by ns/node/label
    store.update("pods", pod)        # Conflict if metadata.resourceVersion is stale
    store.patch("pods", "prod", "web-1", {"metadata": {"labels": {"a": "b"}}}, "strategic")
    store.patch(..., [{"op": "replace", "path": "/spec/replicas", "value": 3}], "json")
    store.delete("deployments", "prod", "web")  # cascades to owned objects (ownerReferences)
    store.mutate("pods", "prod", "web-1", fn)   # fn(obj) edits in place (or returns a new dict);
                                               # atomic; no-op (no new resourceVersion) if equal
    w = store.watch("pods", namespace="prod", resource_version=rv, label_selector="app=web")
    for etype, obj in w.events(timeout=1.0): ...   # "ADDED" / "MODIFIED" / "DELETED"
    w.stop()
    store.append_log("prod", "web-1", "line\n", container="web"); store.rotate_log(...)

Semantics kept from the real API server:
- metadata.uid, resourceVersion (one global counter, string), creationTimestamp (virtual time
  from `now_fn`), generation (1 on create, +1 when anything outside metadata/status changes),
  generateName, apiVersion/kind filled in.
- `update`/`patch` with `scope="spec"` keep the stored status (main resource endpoint of a type
  with a status subresource); `scope="status"` changes only status (the /status endpoint);
  `scope=None` (default, for the world and controllers) takes the whole object.
- Watch: resource_version None/"0" starts with synthetic ADDED for current matches; a version
  older than the kept history raises Gone (410). An object that stops matching a selector is
  sent as DELETED, one that starts matching as ADDED.
- Creating into a namespace that does not exist creates the Namespace (twin convenience).
- Graceful deletion: deleting a pod that is bound and not finished sets deletionTimestamp
  (now + gracePeriodSeconds, default spec.terminationGracePeriodSeconds, 30) and
  deletionGracePeriodSeconds; the pod stays listed (Terminating) until the kubelet
  (`Controllers.finish_terminating`) deletes it with grace 0. Deleting again may only shorten
  the grace. An object with metadata.finalizers keeps its deletionTimestamp until an update
  removes the last one (no finalizer may be added meanwhile); deletionTimestamp cannot be
  written by clients. `store.terminating("pods")` lists what is being deleted.

Errors are `ApiError` subclasses with `.code`, `.reason` and `.status()` (a Kubernetes Status
dict): NotFound 404, AlreadyExists 409, Conflict 409, Invalid 422, BadRequest 400, Gone 410,
Forbidden 403, TooManyRequests 429, InternalError 500, ServiceUnavailable 503.
Returned objects are copies; `list(..., copy=False)` returns the stored dicts (read-only!).

The package: `errors`, `entries` (stored entries, copies, queries), `indexes`, `reads`,
`writes`, `semantics` (what the API server applies on write), `logs`. `Store` composes them and
keeps creation, watches and their event delivery here.
"""
import collections
import random
import threading
import time
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional, Set, Tuple

from twin import defaults, resources
from twin.store.entries import _NAME_RE, Entry, Key, _Query, copy_obj, iso
from twin.store.errors import (
    AlreadyExists,
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    InternalError,
    Invalid,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
    _details,
    _qualified,
    conflict,
    not_found,
)
from twin.store.indexes import StoreIndexes
from twin.store.logs import LOG_LINES_LIMIT, StoreLogs
from twin.store.reads import StoreReads
from twin.store.semantics import apply_defaults
from twin.store.writes import StoreWrites

__all__ = ["AlreadyExists", "ApiError", "BadRequest", "Conflict", "Entry", "Forbidden", "Gone",
           "HISTORY_LIMIT", "InternalError", "Invalid", "LOG_LINES_LIMIT", "NotFound",
           "ServiceUnavailable", "Store", "TooManyRequests", "WATCH_QUEUE_LIMIT", "Watch",
           "apply_defaults", "conflict", "copy_obj", "iso", "not_found"]


HISTORY_LIMIT = 200000


WATCH_QUEUE_LIMIT = 200000


class Watch:
    """A live subscription to one resource's changes. Iterate `events(timeout)`; call `stop()`."""

    def __init__(self, store: "Store", resource: str, query: _Query) -> None:
        self._store = store
        self.resource = resource
        self.query = query
        self._queue: Deque[Tuple[str, Entry]] = collections.deque()
        self._cond = threading.Condition(threading.Lock())
        self.closed = False
        self.overflowed = False

    def _push(self, etype: str, entry: Entry) -> None:
        with self._cond:
            if self.closed:
                return
            if len(self._queue) >= WATCH_QUEUE_LIMIT:
                # a consumer this far behind is cut off (it re-lists), like the real server
                self.closed = True
                self.overflowed = True
            else:
                self._queue.append((etype, entry))
            self._cond.notify()

    def next_entry(self, timeout: Optional[float] = None) -> Optional[Tuple[str, Entry]]:
        """The next (type, Entry) or None on timeout/stop (entries are shared: read-only)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._queue and not self.closed:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            if not self._queue:
                return None
            return self._queue.popleft()

    def get(self, timeout: Optional[float] = None) -> Optional[Tuple[str, Dict[str, Any]]]:
        """The next (type, object copy), or None on timeout/stop."""
        item = self.next_entry(timeout)
        return None if item is None else (item[0], copy_obj(item[1].obj))

    def events(self, timeout: Optional[float] = None) -> Iterator[Tuple[str, Dict[str, Any]]]:
        """Yield (type, object) until `timeout` seconds pass with no event, or stop()."""
        while True:
            item = self.get(timeout)
            if item is None:
                return
            yield item

    def pending(self) -> int:
        return len(self._queue)

    def stop(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()
        self._store._remove_watch(self)


class Store(StoreIndexes, StoreReads, StoreWrites, StoreLogs):
    """The object store (see module docstring)."""

    def __init__(self, now_fn: Callable[[], float] = time.time, seed: int = 0,
                 history_limit: int = HISTORY_LIMIT) -> None:
        self.now_fn = now_fn
        self._lock = threading.RLock()
        self._rng = random.Random(seed)
        self._rv = 0
        self._objs: Dict[str, Dict[Key, Entry]] = collections.defaultdict(dict)
        self._by_ns: Dict[str, Dict[str, Set[Key]]] = collections.defaultdict(
            lambda: collections.defaultdict(set))
        self._by_label: Dict[str, Dict[Tuple[str, str], Set[Key]]] = collections.defaultdict(
            lambda: collections.defaultdict(set))
        self._pods_by_node: Dict[str, Set[Key]] = collections.defaultdict(set)
        self._pods_by_phase: Dict[str, Set[Key]] = collections.defaultdict(set)
        self._by_owner: Dict[str, Set[Tuple[str, Key]]] = collections.defaultdict(set)
        self._by_uid: Dict[str, Tuple[str, Key]] = {}
        self._deleting: Set[Tuple[str, Key]] = set()
        self._history: Deque[Tuple[int, str, str, Entry, Optional[Entry]]] = collections.deque(
            maxlen=history_limit)
        self._watches: Dict[str, List[Watch]] = collections.defaultdict(list)
        self._logs: Dict[Tuple[str, str, str], Dict[str, Deque[str]]] = {}
        self.auto_namespaces = True

    # ----------------------------------------------------------------- basics
    @property
    def resource_version(self) -> str:
        """The latest resourceVersion handed out (string)."""
        return str(self._rv)

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def random_suffix(self, n: int = 5) -> str:
        """Seeded random suffix like the real name generator's (consonants and digits)."""
        alphabet = "bcdfghjklmnpqrstvwxz2456789"
        with self._lock:
            return "".join(self._rng.choice(alphabet) for _ in range(n))

    def _new_uid(self) -> str:
        """A seeded random version-4 UUID string (same value uuid.UUID would print)."""
        bits = self._rng.getrandbits(128)
        bits = (bits & ~(0xc000 << 48)) | (0x8000 << 48)
        bits = (bits & ~(0xf000 << 64)) | (4 << 76)
        h = "%032x" % bits
        return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])

    @staticmethod
    def _rt(resource: str) -> resources.ResourceType:
        try:
            return resources.RESOURCES[resource]
        except KeyError:
            raise NotFound("the server could not find the requested resource (%s)"
                           % resource) from None

    def _key(self, resource: str, namespace: Optional[str], name: str) -> Key:
        rt = self._rt(resource)
        return ((namespace or "") if rt.namespaced else "", name)

    def _stored(self, resource: str, namespace: Optional[str], name: str) -> Tuple[Key, Entry]:
        """The key and entry of a stored object (caller holds the lock); NotFound if absent."""
        key = self._key(resource, namespace, name)
        entry = self._objs[resource].get(key)
        if entry is None:
            raise not_found(resource, name)
        return key, entry

    def _entry(self, resource: str, namespace: Optional[str], name: str) -> Entry:
        return self._stored(resource, namespace, name)[1]

    def count(self, resource: str, namespace: Optional[str] = None) -> int:
        """Number of stored objects of a resource (optionally in one namespace)."""
        with self._lock:
            if namespace is None:
                return len(self._objs[resource])
            return len(self._by_ns[resource].get(namespace, ()))

    # ----------------------------------------------------------------- events
    def _emit(self, resource: str, etype: str, entry: Entry, old: Optional[Entry]) -> None:
        rv = self._rv
        self._history.append((rv, resource, etype, entry, old))
        for w in self._watches.get(resource, ()):
            self._deliver(w, etype, entry, old)

    @staticmethod
    def _deliver(w: Watch, etype: str, entry: Entry, old: Optional[Entry]) -> None:
        q = w.query
        if etype == "MODIFIED":
            now_m = q.matches(entry.obj)
            was_m = old is not None and q.matches(old.obj)
            if now_m and was_m:
                w._push("MODIFIED", entry)
            elif now_m:
                w._push("ADDED", entry)
            elif was_m:
                w._push("DELETED", entry)
        elif q.matches(entry.obj):
            w._push(etype, entry)

    # ----------------------------------------------------------------- create
    def create(self, resource: str, obj: Dict[str, Any], namespace: Optional[str] = None,
               dry_run: bool = False, copy_result: bool = True,
               admit: Optional[Callable[[Optional[Dict[str, Any]], Dict[str, Any]], None]] = None
               ) -> Dict[str, Any]:
        """Store a new object; fills metadata; AlreadyExists/Invalid. Returns a copy
        (copy_result=False: the stored object itself, read-only; saves a deep copy)."""
        rt = self._rt(resource)
        obj = copy_obj(obj)
        md = obj.setdefault("metadata", {})
        with self._lock:
            if rt.namespaced:
                ns = md.get("namespace") or namespace or "default"
                if namespace and md.get("namespace") and md["namespace"] != namespace:
                    raise BadRequest("the namespace of the provided object does not match "
                                     "the namespace sent on the request")
                md["namespace"] = ns
            else:
                md.pop("namespace", None)
                ns = ""
            if not md.get("name"):
                if md.get("generateName"):
                    for _ in range(20):  # the real server retries generated-name clashes too
                        md["name"] = md["generateName"] + self.random_suffix()
                        if (ns, md["name"]) not in self._objs[resource]:
                            break
                else:
                    raise Invalid("%s \"\" is invalid: metadata.name: Required value: name or "
                                  "generateName is required" % rt.kind,
                                  {"name": "", "kind": rt.kind, "causes": [
                                      {"reason": "FieldValueRequired",
                                       "message": "Required value: name or generateName is "
                                                  "required", "field": "metadata.name"}]})
            name = md["name"]
            if resource != "events" and not _NAME_RE.match(name) or len(name) > 253:
                raise Invalid('%s "%s" is invalid: metadata.name: Invalid value: "%s": a '
                              "lowercase RFC 1123 subdomain must consist of lower case "
                              "alphanumeric characters, '-' or '.'" % (rt.kind, name, name),
                              {"name": name, "kind": rt.kind})
            key = (ns, name)
            if key in self._objs[resource]:
                raise AlreadyExists('%s "%s" already exists' % (_qualified(resource), name),
                                    _details(resource, name))
            obj["apiVersion"] = rt.api_version
            obj["kind"] = rt.kind
            md["uid"] = self._new_uid() if not dry_run else "00000000-0000-0000-0000-000000000000"
            md["creationTimestamp"] = iso(self.now_fn())
            md["generation"] = 1
            md.pop("deletionTimestamp", None)
            md.pop("deletionGracePeriodSeconds", None)
            if admit is not None:
                admit(None, obj)
            else:  # objects made by the world and controllers get the server's defaults too
                defaults.apply_defaults(rt, obj, create=True)
            if dry_run:
                md.pop("uid", None)
                return obj
            if rt.namespaced and self.auto_namespaces and resource != "namespaces" \
                    and ("", ns) not in self._objs["namespaces"]:
                self.create("namespaces", {"metadata": {"name": ns}})
            md["resourceVersion"] = self._next_rv()
            apply_defaults(resource, obj)
            if resource == "namespaces":
                obj.setdefault("spec", {"finalizers": ["kubernetes"]})
                obj.setdefault("status", {"phase": "Active"})
            entry = Entry(obj)
            self._objs[resource][key] = entry
            self._index(resource, key, obj)
            self._emit(resource, "ADDED", entry, None)
            return copy_obj(obj) if copy_result else obj

    # ----------------------------------------------------------------- watch
    def watch(self, resource: str, namespace: Optional[str] = None,
              resource_version: Optional[str] = None, label_selector: Optional[str] = None,
              field_selector: Optional[str] = None) -> Watch:
        """Subscribe to changes (see module docstring). Gone if the version is too old."""
        self._rt(resource)
        q = _Query(resource, namespace, label_selector, field_selector)
        with self._lock:
            w = Watch(self, resource, q)
            if resource_version in (None, "", "0"):
                for entry in self.list_entries(resource, namespace, label_selector,
                                               field_selector)[0]:
                    w._push("ADDED", entry)
            else:
                try:
                    since = int(resource_version)
                except ValueError:
                    raise BadRequest("invalid resourceVersion %r" % resource_version) from None
                oldest = self._history[0][0] if self._history else self._rv + 1
                if since < oldest - 1 and since < self._rv:
                    raise Gone("too old resource version: %d (%d)" % (since, oldest - 1))
                for rv, res, etype, entry, old in self._history:
                    if rv > since and res == resource:
                        self._deliver(w, etype, entry, old)
            self._watches[resource].append(w)
            return w

    def _remove_watch(self, w: Watch) -> None:
        with self._lock:
            lst = self._watches.get(w.resource, [])
            if w in lst:
                lst.remove(w)

    def changes_since(self, resource_version: int
                      ) -> Optional[List[Tuple[str, Dict[str, Any], Optional[Dict[str, Any]]]]]:
        """(resource, object, previous object or None) for every write after a version, oldest
        first (objects read-only); None when the history no longer reaches back that far."""
        with self._lock:
            if resource_version >= self._rv:
                return []
            if not self._history or self._history[0][0] > resource_version + 1:
                return None
            out = []
            for rv, res, _etype, entry, old in reversed(self._history):
                if rv <= resource_version:
                    break
                out.append((res, entry.obj, old.obj if old is not None else None))
            out.reverse()
            return out

    def watch_count(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._watches.values())

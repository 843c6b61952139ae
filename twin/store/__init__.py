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
"""
import collections
import datetime
import json
import pickle
import random
import re
import threading
import time
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional, Set, Tuple

from twin import patches, resources, selectors

Key = Tuple[str, str]  # (namespace, name)
HISTORY_LIMIT = 200000
LOG_LINES_LIMIT = 5000
WATCH_QUEUE_LIMIT = 200000


# --------------------------------------------------------------------------- errors
class ApiError(Exception):
    """An error the API server turns into a Status response."""

    code = 500
    reason = "InternalError"

    def __init__(self, message: str, details: Optional[Dict[str, Any]] = None,
                 code: Optional[int] = None, reason: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code
        if reason is not None:
            self.reason = reason

    def status(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                               "status": "Failure", "message": self.message,
                               "reason": self.reason}
        if self.details:
            out["details"] = self.details
        out["code"] = self.code  # the API server's field order (details before code)
        return out


class NotFound(ApiError):
    code, reason = 404, "NotFound"


class AlreadyExists(ApiError):
    code, reason = 409, "AlreadyExists"


class Conflict(ApiError):
    code, reason = 409, "Conflict"


class Invalid(ApiError):
    code, reason = 422, "Invalid"


class BadRequest(ApiError):
    code, reason = 400, "BadRequest"


class Gone(ApiError):
    code, reason = 410, "Expired"


class Forbidden(ApiError):
    code, reason = 403, "Forbidden"


class TooManyRequests(ApiError):
    code, reason = 429, "TooManyRequests"


class InternalError(ApiError):
    code, reason = 500, "InternalError"


class ServiceUnavailable(ApiError):
    code, reason = 503, "ServiceUnavailable"


def _details(resource: str, name: str) -> Dict[str, Any]:
    rt = resources.RESOURCES.get(resource)
    out = {"name": name}
    if rt is not None and rt.group:
        out["group"] = rt.group
    out["kind"] = resource  # StatusDetails order: name, group, kind
    return out


def _qualified(resource: str) -> str:
    rt = resources.RESOURCES.get(resource)
    return "%s.%s" % (resource, rt.group) if rt is not None and rt.group else resource


def not_found(resource: str, name: str) -> NotFound:
    return NotFound('%s "%s" not found' % (_qualified(resource), name),
                    _details(resource, name))


def conflict(resource: str, name: str) -> Conflict:
    return Conflict('Operation cannot be fulfilled on %s "%s": the object has been modified; '
                    "please apply your changes to the latest version and try again"
                    % (_qualified(resource), name), _details(resource, name))


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


# --------------------------------------------------------------------------- store
class Store:
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

    def _entry(self, resource: str, namespace: Optional[str], name: str) -> Entry:
        entry = self._objs[resource].get(self._key(resource, namespace, name))
        if entry is None:
            raise not_found(resource, name)
        return entry

    def count(self, resource: str, namespace: Optional[str] = None) -> int:
        """Number of stored objects of a resource (optionally in one namespace)."""
        with self._lock:
            if namespace is None:
                return len(self._objs[resource])
            return len(self._by_ns[resource].get(namespace, ()))

    # ----------------------------------------------------------------- indexes
    def _index(self, resource: str, key: Key, obj: Dict[str, Any]) -> None:
        md = obj["metadata"]
        self._by_ns[resource][key[0]].add(key)
        for lk, lv in (md.get("labels") or {}).items():
            self._by_label[resource][(lk, lv)].add(key)
        if resource == "pods":
            self._pods_by_node[(obj.get("spec") or {}).get("nodeName") or ""].add(key)
            self._pods_by_phase[(obj.get("status") or {}).get("phase") or "Pending"].add(key)
        for ref in md.get("ownerReferences") or []:
            if ref.get("uid"):
                self._by_owner[ref["uid"]].add((resource, key))
        self._by_uid[md["uid"]] = (resource, key)
        if md.get("deletionTimestamp"):
            self._deleting.add((resource, key))

    def _unindex(self, resource: str, key: Key, obj: Dict[str, Any]) -> None:
        md = obj["metadata"]
        ns_set = self._by_ns[resource].get(key[0])
        if ns_set is not None:
            ns_set.discard(key)
            if not ns_set:
                del self._by_ns[resource][key[0]]
        labels = self._by_label[resource]
        for lk, lv in (md.get("labels") or {}).items():
            s = labels.get((lk, lv))
            if s is not None:
                s.discard(key)
                if not s:
                    del labels[(lk, lv)]
        if resource == "pods":
            node = (obj.get("spec") or {}).get("nodeName") or ""
            s = self._pods_by_node.get(node)
            if s is not None:
                s.discard(key)
                if not s:
                    del self._pods_by_node[node]
            phase = (obj.get("status") or {}).get("phase") or "Pending"
            s = self._pods_by_phase.get(phase)
            if s is not None:
                s.discard(key)
        for ref in md.get("ownerReferences") or []:
            s = self._by_owner.get(ref.get("uid", ""))
            if s is not None:
                s.discard((resource, key))
                if not s:
                    del self._by_owner[ref["uid"]]
        self._by_uid.pop(md.get("uid", ""), None)
        self._deleting.discard((resource, key))

    def _candidates(self, resource: str, q: _Query) -> Any:
        """The smallest index set that can hold all matches (or all keys)."""
        best: Optional[Set[Key]] = None
        if resource == "pods":
            for path, op, value in q.fields:
                if path == "spec.nodeName" and op == "=":
                    best = self._pods_by_node.get(value, set())
        for lk, op, values in q.labels:
            if op in ("=", "in"):
                sets = [self._by_label[resource].get((lk, v), set()) for v in values]
                s = sets[0] if len(sets) == 1 else set().union(*sets)
                if best is None or len(s) < len(best):
                    best = s
        if q.namespace is not None:
            s = self._by_ns[resource].get(q.namespace, set())
            if best is None or len(s) < len(best):
                best = s
        if best is None:
            return self._objs[resource].keys()
        return best

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
                from twin import admission
                admission.apply_defaults(rt, obj, create=True)
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

    # ----------------------------------------------------------------- read
    def get(self, resource: str, namespace: Optional[str], name: str) -> Dict[str, Any]:
        """A copy of one object; NotFound."""
        with self._lock:
            return copy_obj(self._entry(resource, namespace, name).obj)

    def get_entry(self, resource: str, namespace: Optional[str], name: str) -> Entry:
        """The stored Entry (read-only; its `.json` is cached)."""
        with self._lock:
            return self._entry(resource, namespace, name)

    def exists(self, resource: str, namespace: Optional[str], name: str) -> bool:
        with self._lock:
            return self._key(resource, namespace, name) in self._objs[resource]

    def by_uid(self, uid: str) -> Optional[Tuple[str, Dict[str, Any]]]:
        """(resource, stored object read-only) for a uid, or None."""
        with self._lock:
            hit = self._by_uid.get(uid)
            if hit is None:
                return None
            return hit[0], self._objs[hit[0]][hit[1]].obj

    def list_entries(self, resource: str, namespace: Optional[str] = None,
                     label_selector: Optional[str] = None,
                     field_selector: Optional[str] = None) -> Tuple[List[Entry], str]:
        """Matching Entries sorted by (namespace, name), and the list resourceVersion."""
        self._rt(resource)
        q = _Query(resource, namespace, label_selector, field_selector)
        with self._lock:
            objs = self._objs[resource]
            keys = sorted(self._candidates(resource, q))
            if q.namespace is None and not q.labels and not q.fields:
                return [objs[k] for k in keys], str(self._rv)
            out = []
            for key in keys:
                entry = objs.get(key)
                if entry is not None and q.matches(entry.obj):
                    out.append(entry)
            return out, str(self._rv)

    def list(self, resource: str, namespace: Optional[str] = None,
             label_selector: Optional[str] = None, field_selector: Optional[str] = None,
             copy: bool = True) -> Tuple[List[Dict[str, Any]], str]:
        """(items, resourceVersion); items are copies unless copy=False (then read-only)."""
        entries, rv = self.list_entries(resource, namespace, label_selector, field_selector)
        if copy:
            return copy_obj([e.obj for e in entries]), rv
        return [e.obj for e in entries], rv

    def pods_on_node(self, node: str) -> List[Dict[str, Any]]:
        """Stored pods bound to `node` ("" = unscheduled), read-only, unsorted (fast path)."""
        with self._lock:
            objs = self._objs["pods"]
            return [objs[k].obj for k in self._pods_by_node.get(node, ()) if k in objs]

    def pods_in_phase(self, phase: str) -> List[Dict[str, Any]]:
        """Stored pods whose status.phase is `phase` (missing = "Pending"), read-only."""
        with self._lock:
            objs = self._objs["pods"]
            return [objs[k].obj for k in self._pods_by_phase.get(phase, ()) if k in objs]

    def owned_by(self, uid: str, resource: Optional[str] = None) -> List[Dict[str, Any]]:
        """Stored objects whose ownerReferences name `uid` (read-only)."""
        with self._lock:
            out = []
            for res, key in self._by_owner.get(uid, ()):
                if resource is None or res == resource:
                    entry = self._objs[res].get(key)
                    if entry is not None:
                        out.append(entry.obj)
            return out

    # ----------------------------------------------------------------- write
    def _replace(self, resource: str, key: Key, old: Entry, new: Dict[str, Any],
                 deletion: bool = False) -> Entry:
        """Install `new` in place of `old` (caller holds the lock). Returns the new entry (the
        old one when nothing changed; the removed one when the last finalizer of an object
        being deleted went)."""
        omd, nmd = old.obj["metadata"], new.setdefault("metadata", {})
        fixed_fields = _FIXED if deletion else _FIXED + _DELETION
        for fixed in fixed_fields:
            if fixed in omd:
                nmd[fixed] = omd[fixed]
            else:
                nmd.pop(fixed, None)
        if omd.get("deletionTimestamp") and not deletion:
            added = [f for f in nmd.get("finalizers") or []
                     if f not in (omd.get("finalizers") or [])]
            if added:
                raise Invalid('%s "%s" is invalid: metadata.finalizers: Forbidden: no new '
                              "finalizers can be added if the object is being deleted, found "
                              "new finalizers %s" % (resources.RESOURCES[resource].kind,
                                                     key[1], json.dumps(added)),
                              _details(resource, key[1]))
        if nmd.get("deletionTimestamp") and not nmd.get("finalizers") and (
                resource != "pods" or nmd.get("deletionGracePeriodSeconds") == 0):
            self._remove(resource, key, old, "Background")
            return Entry(new)
        rt = resources.RESOURCES[resource]
        new["apiVersion"] = rt.api_version
        new["kind"] = rt.kind
        generation = omd.get("generation", 1)
        if _spec_changed(old.obj, new):
            generation += 1
        nmd["generation"] = generation
        nmd["resourceVersion"] = str(self._rv + 1)
        apply_defaults(resource, new)
        if _same(old.obj, new):
            return old
        self._next_rv()
        entry = Entry(new)
        self._unindex(resource, key, old.obj)
        self._objs[resource][key] = entry
        self._index(resource, key, new)
        self._emit(resource, "MODIFIED", entry, old)
        return entry

    @staticmethod
    def _scoped(rt: resources.ResourceType, old: Dict[str, Any], new: Dict[str, Any],
                scope: Optional[str]) -> Dict[str, Any]:
        if scope == "status":
            out = copy_obj(old)
            if "status" in new:
                out["status"] = new["status"]
            else:
                out.pop("status", None)
            out["metadata"]["resourceVersion"] = new.get("metadata", {}).get(
                "resourceVersion", old["metadata"]["resourceVersion"])
            return out
        if scope == "spec" and rt.has_status:
            if "status" in old:
                new["status"] = copy_obj(old["status"])
            else:
                new.pop("status", None)
        return new

    def update(self, resource: str, obj: Dict[str, Any], namespace: Optional[str] = None,
               scope: Optional[str] = None, dry_run: bool = False,
               admit: Optional[Callable[[Optional[Dict[str, Any]], Dict[str, Any]], None]] = None
               ) -> Dict[str, Any]:
        """Replace an object. Conflict if metadata.resourceVersion is set and stale."""
        rt = self._rt(resource)
        new = copy_obj(obj)
        md = new.setdefault("metadata", {})
        name = md.get("name", "")
        ns = (md.get("namespace") or namespace or "default") if rt.namespaced else ""
        with self._lock:
            key = self._key(resource, ns, name)
            old = self._objs[resource].get(key)
            if old is None:
                raise not_found(resource, name)
            rv = md.get("resourceVersion")
            if rv and rv != old.obj["metadata"]["resourceVersion"]:
                raise conflict(resource, name)
            new = self._scoped(rt, old.obj, new, scope)
            if admit is not None:
                admit(old.obj, new)
            if dry_run:
                return new
            return copy_obj(self._replace(resource, key, old, new).obj)

    def patch(self, resource: str, namespace: Optional[str], name: str, patch: Any,
              patch_type: str = "strategic", scope: Optional[str] = None,
              dry_run: bool = False,
              admit: Optional[Callable[[Optional[Dict[str, Any]], Dict[str, Any]], None]] = None
              ) -> Dict[str, Any]:
        """Apply a patch: patch_type "strategic", "merge" or "json" (or the content type)."""
        rt = self._rt(resource)
        kind = _patch_kind(patch_type)
        with self._lock:
            key = self._key(resource, namespace, name)
            old = self._objs[resource].get(key)
            if old is None:
                raise not_found(resource, name)
            try:
                if kind == "json":
                    new = patches.json_patch(old.obj, patch)
                elif not isinstance(patch, dict):
                    raise patches.PatchError("the patch must be a JSON object")
                elif kind == "merge":
                    new = copy_obj(patches.merge_patch(old.obj, patch))
                else:
                    new = copy_obj(patches.strategic_merge_patch(old.obj, patch))
            except patches.PatchError as exc:
                raise Invalid(str(exc), _details(resource, name)) from None
            if not isinstance(new, dict) or not isinstance(new.get("metadata"), dict):
                raise BadRequest("the patch produced an invalid object")
            rv = new["metadata"].get("resourceVersion")
            if rv and rv != old.obj["metadata"]["resourceVersion"]:
                raise conflict(resource, name)
            new = self._scoped(rt, old.obj, new, scope)
            if admit is not None:
                admit(old.obj, new)
            if dry_run:
                return new
            return copy_obj(self._replace(resource, key, old, new).obj)

    def mutate(self, resource: str, namespace: Optional[str], name: str,
               fn: Callable[[Dict[str, Any]], Optional[Dict[str, Any]]],
               copy_result: bool = True) -> Dict[str, Any]:
        """Atomic read-modify-write: fn edits a copy in place or returns a replacement.
        Returns a copy of the result (copy_result=False: the stored object, read-only)."""
        self._rt(resource)
        with self._lock:
            key = self._key(resource, namespace, name)
            old = self._objs[resource].get(key)
            if old is None:
                raise not_found(resource, name)
            new = copy_obj(old.obj)
            result = fn(new)
            if result is not None:
                new = result
            stored = self._replace(resource, key, old, new).obj
            return copy_obj(stored) if copy_result else stored

    def delete(self, resource: str, namespace: Optional[str], name: str,
               propagation: str = "Background", uid: Optional[str] = None,
               resource_version: Optional[str] = None, dry_run: bool = False,
               grace_period: Optional[int] = None) -> Dict[str, Any]:
        """Delete an object like the real registry (see "Graceful deletion" in the module
        docstring): a bound, running pod gets deletionTimestamp = now + its grace period and
        stays (Terminating) until the kubelet confirms with grace 0; an object with
        finalizers stays until they are removed; anything else goes at once, with everything
        it owns unless propagation="Orphan". Returns the object (Terminating or gone)."""
        self._rt(resource)
        with self._lock:
            key = self._key(resource, namespace, name)
            entry = self._objs[resource].get(key)
            if entry is None:
                raise not_found(resource, name)
            md = entry.obj["metadata"]
            if uid and uid != md["uid"]:
                raise Conflict('Operation cannot be fulfilled on %s "%s": Precondition failed: '
                               "UID in precondition: %s, UID in object meta: %s"
                               % (_qualified(resource), name, uid, md["uid"]))
            if resource_version and resource_version != md["resourceVersion"]:
                raise conflict(resource, name)
            grace = _grace_period(resource, entry.obj, grace_period)
            if not grace and not md.get("finalizers"):
                if dry_run:
                    return copy_obj(entry.obj)
                return self._remove(resource, key, entry, propagation)
            new = copy_obj(entry.obj)
            nmd = new["metadata"]
            grace = grace or 0
            if nmd.get("deletionTimestamp"):
                earlier = self.now_fn() + grace < _epoch(nmd["deletionTimestamp"])
                if resource != "pods" or nmd.get("deletionGracePeriodSeconds") == 0 or (
                        grace and not earlier):
                    return copy_obj(entry.obj)  # already terminating; only shortening counts
            nmd["deletionTimestamp"] = iso(self.now_fn() + grace)
            nmd["deletionGracePeriodSeconds"] = grace
            if dry_run:
                return new
            return copy_obj(self._replace(resource, key, entry, new, deletion=True).obj)

    def _remove(self, resource: str, key: Key, entry: Entry, propagation: str) -> Dict[str, Any]:
        """Remove a stored object now (caller holds the lock); cascade to its dependents."""
        md = entry.obj["metadata"]
        dependents = list(self._by_owner.get(md["uid"], ()))
        del self._objs[resource][key]
        self._unindex(resource, key, entry.obj)
        self._next_rv()
        gone = copy_obj(entry.obj)
        gone["metadata"]["resourceVersion"] = str(self._rv)
        gone_entry = Entry(gone)
        self._emit(resource, "DELETED", gone_entry, entry)
        if resource == "pods":
            for lk in [k for k in self._logs if k[0] == key[0] and k[1] == key[1]]:
                del self._logs[lk]
        for dep_res, dep_key in dependents:
            if dep_key not in self._objs[dep_res]:
                continue
            if propagation == "Orphan":
                self.mutate(dep_res, dep_key[0], dep_key[1], _orphan(md["uid"]))
            else:
                try:
                    self.delete(dep_res, dep_key[0], dep_key[1], propagation)
                except NotFound:
                    pass
        return copy_obj(gone)

    def terminating(self, resource: str = "pods") -> List[Dict[str, Any]]:
        """Stored objects of `resource` with a deletionTimestamp (read-only)."""
        with self._lock:
            objs = self._objs[resource]
            return [objs[k].obj for r, k in self._deleting if r == resource and k in objs]

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


_NODE_INFO = {"architecture": "amd64", "bootID": "", "containerRuntimeVersion": "containerd://1.7",
              "kernelVersion": "6.1.0", "kubeProxyVersion": "v1.31.0",
              "kubeletVersion": "v1.31.0", "machineID": "", "operatingSystem": "linux",
              "osImage": "Twin Linux", "systemUUID": ""}


def apply_defaults(resource: str, obj: Dict[str, Any]) -> None:
    """Fill fields real components always set and the official client insists on
    (node status.nodeInfo, container status image/imageID/ready/restartCount)."""
    if resource == "nodes":
        st = obj.get("status")
        if isinstance(st, dict):
            info = st.get("nodeInfo")
            if not isinstance(info, dict) or any(k not in info for k in _NODE_INFO):
                st["nodeInfo"] = dict(_NODE_INFO, **(info or {}))
    elif resource == "pods":
        st = obj.get("status")
        if not isinstance(st, dict):
            return
        images = {c.get("name"): c.get("image", "")
                  for c in (obj.get("spec") or {}).get("containers") or []}
        for key in ("containerStatuses", "initContainerStatuses"):
            for cs in st.get(key) or []:
                if "image" not in cs or "imageID" not in cs or "ready" not in cs \
                        or "restartCount" not in cs:
                    cs.setdefault("image", images.get(cs.get("name"), ""))
                    cs.setdefault("imageID", "")
                    cs.setdefault("ready", False)
                    cs.setdefault("restartCount", 0)


_FIXED = ("uid", "creationTimestamp", "namespace", "name")
_DELETION = ("deletionTimestamp", "deletionGracePeriodSeconds")


def _grace_period(resource: str, obj: Dict[str, Any], requested: Optional[int]) -> Optional[int]:
    """The pod strategy's CheckGracefulDelete: seconds a deleted pod may take to stop (None =
    delete at once: not a pod, unbound, finished, or grace 0 asked for)."""
    if resource != "pods":
        return None
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
        return None
    period = requested if requested is not None else spec.get("terminationGracePeriodSeconds",
                                                               30)
    period = int(period)
    if period < 0:
        period = 1
    return period or None


def _epoch(ts: str) -> float:
    try:
        return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except (TypeError, ValueError):
        return 0.0


def _orphan(owner_uid: str) -> Callable[[Dict[str, Any]], None]:
    def fn(obj: Dict[str, Any]) -> None:
        refs = [r for r in obj["metadata"].get("ownerReferences") or []
                if r.get("uid") != owner_uid]
        if refs:
            obj["metadata"]["ownerReferences"] = refs
        else:
            obj["metadata"].pop("ownerReferences", None)
    return fn


def _spec_changed(old: Dict[str, Any], new: Dict[str, Any]) -> bool:
    for k in set(old) | set(new):
        if k in ("metadata", "status", "apiVersion", "kind"):
            continue
        if old.get(k) != new.get(k):
            return True
    return False


def _same(old: Dict[str, Any], new: Dict[str, Any]) -> bool:
    """Equal ignoring resourceVersion (no-op writes keep the version, like the real server)."""
    omd, nmd = old.get("metadata", {}), new.get("metadata", {})
    if {k: v for k, v in omd.items() if k != "resourceVersion"} != \
            {k: v for k, v in nmd.items() if k != "resourceVersion"}:
        return False
    return all(old.get(k) == new.get(k) for k in set(old) | set(new) if k != "metadata")


def _patch_kind(patch_type: str) -> str:
    t = patch_type.lower()
    if "json-patch" in t or t == "json":
        return "json"
    if "strategic" in t:
        return "strategic"
    if "merge" in t:
        return "merge"
    if "apply-patch" in t or t == "apply":
        raise ApiError("server-side apply is not supported by the twin", code=415,
                       reason="UnsupportedMediaType")
    raise ApiError("the body of the request was in an unknown format - accepted media types "
                   "include: application/json-patch+json, application/merge-patch+json, "
                   "application/apply-patch+yaml", code=415, reason="UnsupportedMediaType")

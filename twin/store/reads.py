"""Reading the store: get, list, lookups by uid, node, phase and owner.
"""
from typing import Any, Dict, List, Optional, Tuple

from twin.store.entries import Entry, _Query, copy_obj


class StoreReads:
    """Reads; returned objects are copies unless copy=False."""

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

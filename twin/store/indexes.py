"""The store's secondary indexes: by namespace, label, node, phase, owner and uid.
"""
from typing import Any, Dict, Optional, Set

from twin.store.entries import Key, _Query


class StoreIndexes:
    """Index upkeep and the candidate keys for a query."""

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

"""Writing the store: update, patch, mutate and delete (graceful deletion, finalizers,
cascading to owned objects).
"""
import json
from typing import Any, Callable, Dict, List, Optional

from twin import patches, resources
from twin.store.entries import Entry, Key, copy_obj, iso
from twin.store.errors import (
    BadRequest,
    Conflict,
    Invalid,
    NotFound,
    _details,
    _qualified,
    conflict,
)
from twin.store.semantics import (
    _DELETION,
    _FIXED,
    _epoch,
    _grace_period,
    _orphan,
    _patch_kind,
    _same,
    _spec_changed,
    apply_defaults,
)


class StoreWrites:
    """Writes after create; each bumps resourceVersion."""

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
            key, old = self._stored(resource, ns, name)
            return self._commit(resource, key, old, new, md.get("resourceVersion"), rt, scope,
                                dry_run, admit)

    def _commit(self, resource: str, key: Key, old: Entry, new: Dict[str, Any],
                rv: Optional[str], rt: resources.ResourceType, scope: Optional[str],
                dry_run: bool,
                admit: Optional[Callable[[Optional[Dict[str, Any]], Dict[str, Any]], None]]
                ) -> Dict[str, Any]:
        """The end of update and patch: resourceVersion precondition, scope, admission, write."""
        if rv and rv != old.obj["metadata"]["resourceVersion"]:
            raise conflict(resource, key[1])
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
            key, old = self._stored(resource, namespace, name)
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
            return self._commit(resource, key, old, new, new["metadata"].get("resourceVersion"),
                                rt, scope, dry_run, admit)

    def mutate(self, resource: str, namespace: Optional[str], name: str,
               fn: Callable[[Dict[str, Any]], Optional[Dict[str, Any]]],
               copy_result: bool = True) -> Dict[str, Any]:
        """Atomic read-modify-write: fn edits a copy in place or returns a replacement.
        Returns a copy of the result (copy_result=False: the stored object, read-only)."""
        self._rt(resource)
        with self._lock:
            key, old = self._stored(resource, namespace, name)
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
            key, entry = self._stored(resource, namespace, name)
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

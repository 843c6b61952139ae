"""The resource verbs: get, create, update, patch, delete, deletecollection and list.
"""
import json
from typing import Any, Dict, Optional

from twin import admission, resources, tables
from twin.apiserver.request import Request, _dry_run, _fields_v1, _partial, store_iso
from twin.faults import Fault
from twin.store import ApiError, BadRequest, NotFound


class ResourceVerbs:
    """Routing of a parsed request to the store's verbs."""

    # ----------------------------------------------------------------- route
    def _route(self, method: str, req: Request, body: Any, fault: Optional[Fault]) -> None:
        sub = req.subresource
        if sub == "log":
            return self._log(req)
        if sub == "eviction":
            return self._evict(req, body)
        if sub == "binding":
            return self._bind(req, body)
        if sub == "scale":
            return self._scale(method, req, body)
        if sub in ("proxy", "exec", "ephemeralcontainers", "finalize"):
            raise ApiError("the twin does not serve %s" % sub, code=405,
                           reason="MethodNotAllowed")
        if req.verb == "watch":
            return self._watch(req, fault)
        if req.verb == "list":
            return self._list(req)
        if req.verb == "get":
            entry = self.api.store.get_entry(req.rt.plural, req.namespace, req.name)
            if tables.wants_table(self.headers.get("Accept", "")) and not sub:
                return self._send(200, tables.table(
                    req.rt.plural, [entry.obj], entry.obj["metadata"]["resourceVersion"],
                    self.api.store.now_fn(), req.query.get("includeObject") or "Metadata"))
            if "as=PartialObjectMetadata" in self.headers.get("Accept", ""):
                return self._send(200, _partial(entry.obj))
            return self._send(200, entry.json)
        dry = _dry_run(req)
        scope = "status" if sub == "status" else "spec"
        store, plural = self.api.store, req.rt.plural
        if req.verb == "create":
            if not isinstance(body, dict):
                raise BadRequest("the request body must be an object")
            obj = store.create(plural, body, namespace=req.namespace or None, dry_run=dry,
                               admit=self._admitter(req, scope))
            return self._send(201, obj)
        if req.verb == "update":
            if not isinstance(body, dict):
                raise BadRequest("the request body must be an object")
            md = body.setdefault("metadata", {})
            if md.get("name") and md["name"] != req.name:
                raise BadRequest("the name of the object (%s) does not match the name on the "
                                 "URL (%s)" % (md["name"], req.name))
            md["name"] = req.name
            if req.namespace:
                md["namespace"] = req.namespace
            return self._send(200, store.update(plural, body, req.namespace or None, scope,
                                                dry, admit=self._admitter(req, scope)))
        if req.verb == "patch":
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if "strategic" in ctype and resources.is_custom(req.rt):
                raise ApiError("the body of the request was in an unknown format - accepted "
                               "media types include: application/json-patch+json, "
                               "application/merge-patch+json, application/apply-patch+yaml",
                               code=415, reason="UnsupportedMediaType")
            if ctype == "application/apply-patch+yaml":
                return self._apply(req, body, scope, dry)
            return self._send(200, store.patch(plural, req.namespace, req.name, body, ctype,
                                               scope, dry, admit=self._admitter(req, scope)))
        if req.verb == "delete":
            return self._delete(req, body or {}, dry)
        if req.verb == "deletecollection":
            items, rv = store.list(plural, req.namespace or None,
                                   req.query.get("labelSelector"),
                                   req.query.get("fieldSelector"), copy=False)
            names = [(o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in items]
            gone = []
            for ns, name in names:
                try:
                    gone.append(store.delete(plural, ns, name, dry_run=dry))
                except NotFound:
                    pass
            return self._send(200, {"kind": req.rt.list_kind,
                                    "apiVersion": req.rt.api_version,
                                    "metadata": {"resourceVersion": store.resource_version},
                                    "items": gone})
        raise ApiError("method not allowed", code=405, reason="MethodNotAllowed")

    def _apply(self, req: Request, body: Any, scope: str, dry: bool) -> None:
        """Server-side apply, simplified: create when absent, else merge the applied
        configuration over the object (no field-ownership conflicts); managedFields records
        the manager's fields (operation Apply)."""
        manager = req.query.get("fieldManager")
        if not manager:
            raise BadRequest("PATCH requests with apply content type must include fieldManager")
        if not isinstance(body, dict):
            raise BadRequest("the applied configuration must be an object")
        store, plural = self.api.store, req.rt.plural
        entry = {"manager": manager, "operation": "Apply", "apiVersion": req.rt.api_version,
                 "time": store_iso(store.now_fn()), "fieldsType": "FieldsV1",
                 "fieldsV1": _fields_v1({k: v for k, v in body.items()
                                         if k not in ("apiVersion", "kind")})}
        admit = self._admitter(req, scope)
        if not store.exists(plural, req.namespace, req.name):
            obj = dict(body)
            md = dict(obj.get("metadata") or {})
            md.update({"name": req.name, "managedFields": [entry]})
            if req.namespace:
                md["namespace"] = req.namespace
            obj["metadata"] = md
            return self._send(201, store.create(plural, obj, req.namespace or None, dry,
                                                admit=admit))
        current = store.get(plural, req.namespace, req.name)
        others = [m for m in current["metadata"].get("managedFields") or []
                  if m.get("manager") != manager]
        patch = dict(body)
        patch["metadata"] = dict(patch.get("metadata") or {}, managedFields=others + [entry])
        self._send(200, store.patch(plural, req.namespace, req.name, patch, "merge", scope,
                                    dry, admit=admit))

    def _admitter(self, req: Request, scope: str) -> Any:
        """The admission step for this write (defaults, schema, validation, warnings)."""
        field_validation = req.query.get("fieldValidation") or "Warn"

        def admit(old: Optional[Dict[str, Any]], new: Dict[str, Any]) -> None:
            self._warnings.extend(admission.admit(req.rt, new, old, field_validation, scope))
        return admit

    def _delete(self, req: Request, options: Dict[str, Any], dry: bool) -> None:
        pre = options.get("preconditions") or {}
        propagation = options.get("propagationPolicy") or req.query.get(
            "propagationPolicy") or "Background"
        if options.get("orphanDependents") is True:
            propagation = "Orphan"
        dry = dry or "All" in (options.get("dryRun") or [])
        grace = options.get("gracePeriodSeconds", req.query.get("gracePeriodSeconds"))
        try:
            grace = None if grace in (None, "") else int(grace)
        except (TypeError, ValueError):
            raise BadRequest("gracePeriodSeconds must be an integer") from None
        gone = self.api.store.delete(req.rt.plural, req.namespace, req.name, propagation,
                                     pre.get("uid"), pre.get("resourceVersion"), dry, grace)
        if req.rt.plural == "pods" or gone["metadata"].get("deletionTimestamp"):
            return self._send(200, gone)
        md = gone["metadata"]
        self._send(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                         "status": "Success", "details": {
                             "name": md["name"], "group": req.rt.group,
                             "kind": req.rt.plural, "uid": md.get("uid")}})

    def _list(self, req: Request) -> None:
        q = req.query
        entries, rv = self.api.store.list_entries(req.rt.plural, req.namespace or None,
                                                  q.get("labelSelector"),
                                                  q.get("fieldSelector"))
        start = 0
        if q.get("continue"):
            try:
                rv, start_s = q["continue"].split(":", 1)
                start = int(start_s)
            except ValueError:
                raise BadRequest("invalid continue token") from None
        limit = int(q.get("limit") or 0)
        meta: Dict[str, Any] = {"resourceVersion": rv}
        chunk = entries[start:]
        if limit and len(chunk) > limit:
            chunk = chunk[:limit]
            meta["continue"] = "%s:%d" % (rv, start + limit)
            meta["remainingItemCount"] = len(entries) - start - limit
        if "as=PartialObjectMetadataList" in self.headers.get("Accept", ""):
            meta["resourceVersion"] = rv
            return self._send(200, {"kind": "PartialObjectMetadataList",
                                    "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                                    "items": [_partial(e.obj) for e in chunk]})
        if tables.wants_table(self.headers.get("Accept", "")):
            out = tables.table(req.rt.plural, [e.obj for e in chunk], rv,
                               self.api.store.now_fn(),
                               q.get("includeObject") or "Metadata")
            out["metadata"].update(meta)
            return self._send(200, out)
        head = json.dumps({"kind": req.rt.list_kind, "apiVersion": req.rt.api_version,
                           "metadata": meta}, separators=(",", ":")).encode()
        data = b"".join([head[:-1], b',"items":[', b",".join(e.json for e in chunk), b"]}"])
        self._send(200, data)

"""The OpenAPI v3 documents the API server publishes (/openapi/v3 and one per group/version),
generated from the same schemas admission validates with (twin.schemas).

kubectl reads them to learn that the server validates fields itself (the `fieldValidation`
query parameter on each PATCH operation; it then sends `fieldValidation=Strict` instead of
validating client-side) and for strategic-merge patches in `kubectl apply`.

    root()                      # {"paths": {"apis/apps/v1": {"serverRelativeURL": ...}}}
    group_version(group, ver)   # the OpenAPI 3.0 document, or None
"""
import copy
import functools
import hashlib
import json
from typing import Any, Dict, List, Optional

from twin import resources, schemas

_QUERY = ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")


def _gv_path(group: str, version: str) -> str:
    return "api/%s" % version if not group else "apis/%s/%s" % (group, version)


def _convert(schema: Any) -> Any:
    """JSON Schema (kubernetes-validate's dialect) -> OpenAPI 3.0 schema object."""
    if isinstance(schema, list):
        return [_convert(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: Dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$ref":
            out["allOf"] = [{"$ref": "#/components/schemas/" + value.rsplit("/", 1)[-1]}]
        elif key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            if types:
                out["type"] = types[0]
        elif key == "oneOf":
            out["x-kubernetes-int-or-string"] = True  # IntOrString / Quantity: untyped here
        elif key in ("properties",):
            out[key] = {k: _convert(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = _convert(value) if isinstance(value, dict) else value
        elif key in ("$defs", "$schema", "$id"):
            continue
        else:
            out[key] = copy.deepcopy(value)
    return out


def _refs(schema: Any, into: set) -> None:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            into.add(ref.rsplit("/", 1)[-1])
        for value in schema.values():
            _refs(value, into)
    elif isinstance(schema, list):
        for value in schema:
            _refs(value, into)


def _components(keys: List[str]) -> Dict[str, Any]:
    defs = schemas._definitions()
    seen: set = set()
    todo = list(keys)
    while todo:
        key = todo.pop()
        if key in seen or key not in defs:
            continue
        seen.add(key)
        found: set = set()
        _refs(defs[key], found)
        todo.extend(found - seen)
    return {key: _convert(defs[key]) for key in sorted(seen)}


def _operation(rt: resources.ResourceType, verb: str) -> Dict[str, Any]:
    params = [{"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
              for name in _QUERY]
    gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    return {"operationId": "%s%s" % (verb, rt.kind), "parameters": params,
            "x-kubernetes-action": verb, "x-kubernetes-group-version-kind": gvk,
            "responses": {"200": {"description": "OK"}}}


@functools.lru_cache(maxsize=64)
def _document(group: str, version: str) -> Optional[str]:
    rts = [rt for rt in resources.RESOURCES.values() if (rt.group, rt.version) == (
        group, version)]
    if not rts:
        return None
    paths: Dict[str, Any] = {}
    keys = []
    for rt in rts:
        base = "/" + _gv_path(group, version)
        where = base + ("/namespaces/{namespace}/" if rt.namespaced else "/") + rt.plural
        verbs = rt.verbs or resources_verbs()
        if "create" in verbs:
            paths[where] = {"post": _operation(rt, "post")}
        if "patch" in verbs:
            paths[where + "/{name}"] = {"patch": _operation(rt, "patch"),
                                        "put": _operation(rt, "put"),
                                        "get": _operation(rt, "get")}
        key = schemas.schema_key(rt.group, rt.version, rt.kind)
        if key:
            keys.append(key)
    doc = {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": schemas.SCHEMA_VERSION},
           "paths": paths, "components": {"schemas": _components(keys)}}
    return json.dumps(doc, separators=(",", ":"))


def resources_verbs() -> List[str]:
    return ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def group_version(group: str, version: str) -> Optional[str]:
    """The OpenAPI v3 document (JSON text) of one group/version, or None."""
    return _document(group, version)


def root() -> Dict[str, Any]:
    """/openapi/v3: where each group/version's document is (with a content hash)."""
    paths = {}
    for group, versions in resources.group_versions().items():
        for version in versions:
            doc = _document(group, version) or ""
            digest = hashlib.sha512(doc.encode()).hexdigest()[:128].upper()
            paths[_gv_path(group, version)] = {
                "serverRelativeURL": "/openapi/v3/%s?hash=%s" % (_gv_path(group, version),
                                                                digest)}
    return {"paths": paths}

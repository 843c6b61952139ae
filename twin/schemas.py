"""Structural validation of API writes against the upstream Kubernetes JSON schemas.

The schemas are the ones the `kubernetes-validate` package ships (generated from the
Kubernetes OpenAPI document), for the release the twin claims (`SCHEMA_VERSION`, v1.31.0,
"local-strict": unknown fields are not allowed). Custom resources the pack writes have a
minimal schema of their published structure in twin/crd_schemas/ (no package ships those).

    problems = check(rt, obj)     # Problems: .type_errors, .unknown, .required, .invalid
    strip_unknown(obj, problems)  # drop unknown fields (what the API server's decoder does)

Only the keywords those schemas use are implemented: $ref, type, properties,
additionalProperties, items, required, enum, oneOf, format (int32/int64) and minimum.
"""
import functools
import importlib.util
import json
import os
from typing import Any, Dict, List, Optional, Tuple

SCHEMA_VERSION = "v1.31.0"
_HERE = os.path.dirname(os.path.abspath(__file__))
_JSON_TYPES = {"string": str, "boolean": bool, "object": dict, "array": list}


class Problems:
    """What is wrong with an object: (path, detail) pairs by kind of problem."""

    def __init__(self) -> None:
        self.type_errors: List[Tuple[str, str, Any]] = []  # (path, Go type, value)
        self.unknown: List[Tuple[str, ...]] = []
        self.required: List[str] = []
        self.invalid: List[Tuple[str, Any, str]] = []  # (path, value, message)
        self.unsupported: List[Tuple[str, Any, List[Any]]] = []

    def __bool__(self) -> bool:
        return bool(self.type_errors or self.unknown or self.required or self.invalid
                    or self.unsupported)


def _schema_dir() -> Optional[str]:
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "kubernetes-json-schema",
                        SCHEMA_VERSION + "-local-strict")
    return path if os.path.isdir(path) else None


@functools.lru_cache(maxsize=1)
def _definitions() -> Dict[str, Any]:
    """All $defs: the upstream ones plus the twin's CRD schemas (each under its GVK)."""
    defs: Dict[str, Any] = {}
    directory = _schema_dir()
    if directory is not None:
        with open(os.path.join(directory, "_definitions.json")) as fh:
            defs.update(json.load(fh)["$defs"])
    crd_dir = os.path.join(_HERE, "crd_schemas")
    for name in sorted(os.listdir(crd_dir)) if os.path.isdir(crd_dir) else []:
        if name.endswith(".json"):
            with open(os.path.join(crd_dir, name)) as fh:
                doc = json.load(fh)
            defs.update(doc.get("$defs") or {})
    return defs


@functools.lru_cache(maxsize=1)
def _by_gvk() -> Dict[Tuple[str, str, str], str]:
    out = {}
    for key, schema in _definitions().items():
        for gvk in schema.get("x-kubernetes-group-version-kind") or []:
            out[(gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", ""))] = key
    return out


def available() -> bool:
    """True when the upstream schemas are installed (kubernetes-validate)."""
    return _schema_dir() is not None


def schema_key(group: str, version: str, kind: str) -> Optional[str]:
    return _by_gvk().get((group, version, kind))


def check(group: str, version: str, kind: str, obj: Any) -> Optional[Problems]:
    """Problems of `obj` against the schema of group/version/kind (None: no schema)."""
    key = schema_key(group, version, kind)
    if key is None:
        return None
    problems = Problems()
    _walk(obj, {"$ref": "#/$defs/" + key}, (), problems, key)
    return problems


def strip_unknown(obj: Any, problems: Problems) -> None:
    """Remove the unknown fields found by `check` (deepest first)."""
    for path in sorted(problems.unknown, key=len, reverse=True):
        node = obj
        for part in path[:-1]:
            node = node[part] if isinstance(node, dict) or (
                isinstance(node, list) and isinstance(part, int)) else None
            if node is None:
                break
        if isinstance(node, dict):
            node.pop(path[-1], None)


def dotted(path: Tuple[Any, ...]) -> str:
    """("spec", "containers", 0, "image") -> "spec.containers[0].image"."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += "[%d]" % part
        else:
            out += ("." if out else "") + str(part)
    return out


def _resolve(schema: Dict[str, Any], owner: str) -> Tuple[Dict[str, Any], str]:
    while "$ref" in schema:
        key = schema["$ref"].rsplit("/", 1)[-1]
        schema, owner = _definitions().get(key, {}), key
    return schema, owner


def _type_ok(value: Any, types: List[str]) -> bool:
    for t in types:
        if t == "null" and value is None:
            return True
        if t == "integer" and isinstance(value, int) and not isinstance(value, bool):
            return True
        if t == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        py = _JSON_TYPES.get(t)
        if py is not None and isinstance(value, py):
            return True
    return False


def _go_type(schema: Dict[str, Any], owner: str) -> str:
    types = [t for t in _types(schema) if t != "null"]
    if not types:
        return "object"
    t = types[0]
    if t == "integer":
        return schema.get("format") or "int64"
    if t == "number":
        return "float64"
    if t == "boolean":
        return "bool"
    if t == "object":
        if schema.get("properties"):
            return "v1." + owner.rsplit(".", 1)[-1]
        return "map[string]" + _go_type(schema.get("additionalProperties") or {}, owner)
    if t == "array":
        return "[]" + _go_type(_resolve(schema.get("items") or {}, owner)[0], owner)
    return t


def _types(schema: Dict[str, Any]) -> List[str]:
    t = schema.get("type")
    if t is None:
        return []
    return t if isinstance(t, list) else [t]


def _walk(value: Any, schema: Dict[str, Any], path: Tuple[Any, ...], problems: Problems,
          owner: str) -> None:
    schema, owner = _resolve(schema, owner)
    if "oneOf" in schema:  # IntOrString, Quantity
        if value is not None and not any(_type_ok(value, _types(s)) for s in schema["oneOf"]):
            problems.type_errors.append((dotted(path), "string", value))
        return
    types = _types(schema)
    if types and not _type_ok(value, types):
        problems.type_errors.append((dotted(path), _go_type(schema, owner), value))
        return
    if value is None:
        return
    if "enum" in schema and value not in schema["enum"] and len(path) > 1:
        problems.unsupported.append((dotted(path), value, list(schema["enum"])))
    if "minimum" in schema and isinstance(value, (int, float)) and value < schema["minimum"]:
        problems.invalid.append((dotted(path), value, "must be greater than or equal to %s"
                                 % schema["minimum"]))
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for name in schema.get("required") or []:
            if value.get(name) is None:
                problems.required.append(dotted(path + (name,)))
        for key, item in value.items():
            if props is not None and key in props:
                _walk(item, props[key], path + (key,), problems, owner)
            elif isinstance(extra, dict):
                _walk(item, extra, path + (key,), problems, owner)
            elif props is not None and extra is not True and key not in ("apiVersion", "kind"):
                problems.unknown.append(path + (key,))
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            _walk(item, schema["items"], path + (index,), problems, owner)

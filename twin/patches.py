"""The three PATCH flavours the API server accepts, applied to plain JSON dicts.

- `merge_patch(doc, patch)`: RFC 7386 JSON merge patch (null deletes a key, lists replace).
- `strategic_merge_patch(doc, patch)`: Kubernetes strategic merge: lists of objects with a merge
  key (containers by name, conditions by type, ...) merge element-wise; `$patch: delete|replace`,
  `$retainKeys`, `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>` directives.
- `json_patch(doc, ops)`: RFC 6902 (add, remove, replace, move, copy, test).
All return a new document; the inputs are not modified. Errors raise `PatchError`.
"""
import copy
from typing import Any, Dict, List, Optional

# field name -> merge key for lists of objects (the built-in types' patchMergeKey tags)
MERGE_KEYS: Dict[str, str] = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "conditions": "type", "taints": "key", "ownerReferences": "uid",
    "imagePullSecrets": "name", "addresses": "type", "containerStatuses": "name",
    "initContainerStatuses": "name", "hostAliases": "ip", "topologySpreadConstraints":
    "topologyKey", "resourceClaims": "name", "ports": "port",
}
# primitive lists merged as sets
MERGE_PRIMITIVE_LISTS = frozenset({"finalizers"})


class PatchError(ValueError):
    """A patch that cannot be applied (bad op, missing path, failed test)."""


def merge_patch(doc: Any, patch: Any) -> Any:
    """RFC 7386 merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _merge_key_for(field: str, items: List[Any]) -> Optional[str]:
    if field == "ports":
        sample = next((i for i in items if isinstance(i, dict)), None)
        if sample is not None and "containerPort" in sample:
            return "containerPort"
    return MERGE_KEYS.get(field)


def strategic_merge_patch(doc: Any, patch: Any) -> Any:
    """Kubernetes strategic merge patch (enough of it for the built-in types the twin serves)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    out = dict(doc) if isinstance(doc, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            out[field] = [v for v in out.get(field) or [] if v not in value]
            continue
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge_patch(out.get(key), value)
            if merged is None:
                out.pop(key, None)
            else:
                out[key] = merged
        elif isinstance(value, list):
            out[key] = _merge_list(key, out.get(key), value)
        else:
            out[key] = value
    if retain is not None:
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _merge_list(field: str, current: Any, patch: List[Any]) -> List[Any]:
    current = current if isinstance(current, list) else []
    if field in MERGE_PRIMITIVE_LISTS:
        return list(current) + [v for v in patch if v not in current]
    merge_key = _merge_key_for(field, patch + current)
    if merge_key is None or not all(isinstance(i, dict) for i in patch):
        if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
            return [copy.deepcopy(i) for i in patch if i.get("$patch") != "replace"]
        return copy.deepcopy(patch)
    if any(i.get("$patch") == "replace" for i in patch):
        return [copy.deepcopy(i) for i in patch if i.get("$patch") != "replace"]
    out = list(current)
    for item in patch:
        key = item.get(merge_key)
        idx = next((n for n, c in enumerate(out)
                    if isinstance(c, dict) and c.get(merge_key) == key), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(strategic_merge_patch({}, item))
        else:
            out[idx] = strategic_merge_patch(out[idx], item)
    return out


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _split_pointer(path: str) -> List[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError("invalid JSON pointer %r" % path)
    return [_unescape(t) for t in path[1:].split("/")]


def _resolve(doc: Any, tokens: List[str]) -> Any:
    cur = doc
    for tok in tokens:
        if isinstance(cur, dict):
            if tok not in cur:
                raise PatchError("path not found: %s" % "/".join(tokens))
            cur = cur[tok]
        elif isinstance(cur, list):
            try:
                cur = cur[int(tok)]
            except (ValueError, IndexError):
                raise PatchError("invalid index %r" % tok) from None
        else:
            raise PatchError("path not found: %s" % "/".join(tokens))
    return cur


def _add(doc: Any, tokens: List[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _resolve(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            try:
                idx = int(last)
            except ValueError:
                raise PatchError("invalid index %r" % last) from None
            if idx < 0 or idx > len(parent):
                raise PatchError("index out of range: %d" % idx)
            parent.insert(idx, value)
    else:
        raise PatchError("cannot add to a scalar at %s" % "/".join(tokens))
    return doc


def _remove(doc: Any, tokens: List[str]) -> Any:
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent = _resolve(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError("unable to remove nonexistent key: %s" % last)
        return parent.pop(last)
    if isinstance(parent, list):
        try:
            return parent.pop(int(last))
        except (ValueError, IndexError):
            raise PatchError("invalid index %r" % last) from None
    raise PatchError("cannot remove from a scalar")


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902 JSON patch."""
    if not isinstance(ops, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError("invalid JSON patch operation: %r" % (op,))
        name, tokens = op["op"], _split_pointer(op["path"])
        if name == "add":
            doc = _add(doc, tokens, copy.deepcopy(op.get("value")))
        elif name == "remove":
            _remove(doc, tokens)
        elif name == "replace":
            _resolve(doc, tokens)
            if not tokens:
                doc = copy.deepcopy(op.get("value"))
            else:
                _remove(doc, tokens)
                doc = _add(doc, tokens, copy.deepcopy(op.get("value")))
        elif name in ("move", "copy"):
            src = _split_pointer(op.get("from", ""))
            value = copy.deepcopy(_resolve(doc, src))
            if name == "move":
                _remove(doc, src)
            doc = _add(doc, tokens, value)
        elif name == "test":
            if _resolve(doc, tokens) != op.get("value"):
                raise PatchError("testing value %s failed" % op["path"])
        else:
            raise PatchError("unknown JSON patch op %r" % name)
    return doc

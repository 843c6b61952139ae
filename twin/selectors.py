"""Kubernetes label and field selectors: parse once, match many.

Label syntax: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a`, `!a`, comma = AND.
Field syntax: `path=value`, `path==value`, `path!=value`, comma = AND.
"""
import re
from typing import Any, Dict, FrozenSet, List, Optional, Tuple

Requirement = Tuple[str, str, FrozenSet[str]]  # (key, op, values); op in = != in notin exists !


class SelectorError(ValueError):
    """A selector string that does not parse."""


_KEY_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?/)?"
                     r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def _split_top(text: str) -> List[str]:
    """Split on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


_SET_RE = re.compile(r"^(\S+)\s+(in|notin)\s+\((.*)\)$")


def parse_labels(text: Optional[str]) -> List[Requirement]:
    """Parse a label selector string into requirements (empty list matches everything)."""
    if not text:
        return []
    reqs: List[Requirement] = []
    for part in _split_top(text):
        m = _SET_RE.match(part)
        if m:
            key, op = m.group(1), m.group(2)
            values = frozenset(v.strip() for v in m.group(3).split(",") if v.strip())
            reqs.append((_check_key(key), op, values))
        elif "!=" in part:
            key, value = part.split("!=", 1)
            reqs.append((_check_key(key.strip()), "!=", frozenset([value.strip()])))
        elif "==" in part:
            key, value = part.split("==", 1)
            reqs.append((_check_key(key.strip()), "=", frozenset([value.strip()])))
        elif "=" in part:
            key, value = part.split("=", 1)
            reqs.append((_check_key(key.strip()), "=", frozenset([value.strip()])))
        elif part.startswith("!"):
            reqs.append((_check_key(part[1:].strip()), "!", frozenset()))
        else:
            reqs.append((_check_key(part), "exists", frozenset()))
    return reqs


def _check_key(key: str) -> str:
    if not _KEY_RE.match(key):
        raise SelectorError("unable to parse requirement: invalid label key %r" % key)
    return key


def match_labels(reqs: List[Requirement], labels: Optional[Dict[str, str]]) -> bool:
    """True if `labels` satisfy every requirement."""
    labels = labels or {}
    for key, op, values in reqs:
        has = key in labels
        if op == "=" or op == "in":
            if not has or labels[key] not in values:
                return False
        elif op == "!=" or op == "notin":
            if has and labels[key] in values:
                return False
        elif op == "exists":
            if not has:
                return False
        elif op == "!":
            if has:
                return False
    return True


def selector_from_label_selector(sel: Optional[Dict[str, Any]]) -> List[Requirement]:
    """Requirements from a LabelSelector object ({matchLabels, matchExpressions})."""
    if not sel:
        return []
    reqs: List[Requirement] = [(k, "=", frozenset([str(v)]))
                               for k, v in (sel.get("matchLabels") or {}).items()]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in sel.get("matchExpressions") or []:
        reqs.append((expr["key"], ops[expr["operator"]], frozenset(expr.get("values") or [])))
    return reqs


def selector_string(sel: Optional[Dict[str, Any]]) -> str:
    """LabelSelector object -> selector string."""
    if not sel:
        return ""
    parts = ["%s=%s" % kv for kv in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        op, key, vals = e["operator"], e["key"], ",".join(e.get("values") or [])
        parts.append({"In": "%s in (%s)" % (key, vals), "NotIn": "%s notin (%s)" % (key, vals),
                      "Exists": key, "DoesNotExist": "!" + key}[op])
    return ",".join(parts)


FieldReq = Tuple[str, str, str]  # (path, op, value); op in = !=


def parse_fields(text: Optional[str]) -> List[FieldReq]:
    """Parse a field selector string."""
    if not text:
        return []
    reqs: List[FieldReq] = []
    for part in _split_top(text):
        if "!=" in part:
            path, value = part.split("!=", 1)
            reqs.append((path.strip(), "!=", value.strip()))
        elif "==" in part:
            path, value = part.split("==", 1)
            reqs.append((path.strip(), "=", value.strip()))
        elif "=" in part:
            path, value = part.split("=", 1)
            reqs.append((path.strip(), "=", value.strip()))
        else:
            raise SelectorError("invalid selector: '%s'; can't understand '%s'" % (text, part))
    return reqs


def field_value(obj: Dict[str, Any], path: str) -> str:
    """The string value of a dotted field path as the API server compares it ("" if absent)."""
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
        if cur is None:
            return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if isinstance(cur, dict):
        # e.g. events' "source" selects on source.component
        return str(cur.get("component", ""))
    return str(cur)


def match_fields(reqs: List[FieldReq], obj: Dict[str, Any]) -> bool:
    """True if `obj` satisfies every field requirement."""
    for path, op, value in reqs:
        actual = field_value(obj, path)
        if path == "spec.unschedulable" and actual == "":
            actual = "false"
        if (actual == value) != (op == "="):
            return False
    return True

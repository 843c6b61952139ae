"""Which pods the healer may move: pod facts and a small selection-criteria grammar.

Grammar (case-insensitive keywords; clauses joined with AND only)::

    criteria := "" | "all" | clause ("AND" clause)*
    clause   := field op value
    op       := == | != | < | <= | > | >=

Fields:
- `priority`: the pod's priority level, compared by rank, with a level name
  (`low < medium < high < critical`) or with a number (then the raw priority value is compared).
  Level of a pod: system classes (`system-cluster-critical`, `system-node-critical`) are
  `critical`; otherwise the higher of the level of `spec.priority` (>= 1e9 `critical`,
  >= 100000 `high`, >= 1000 `medium`, else `low`) and the level named in the class name
  (`*critical*`, `*high*`, `*medium*`), so a pod is never ranked below what its class says.
- `restartable` (`true|false`): owned by a controller that recreates the pod (ReplicaSet,
  StatefulSet, ReplicationController, Job). Bare pods are not restartable.
- `namespace`, `priority_class`, `owner_kind`, `qos`: string equality (`==`, `!=`).

Example (the seed's): `priority < high AND restartable == true`.
DaemonSet pods and mirror (static) pods are never selected, whatever the criteria.
"""
import re
from typing import Any, Callable, Dict, List, Optional, Tuple

from lib.base_action import ActionInputError

LEVELS = ("low", "medium", "high", "critical")
CRITICAL_VALUE = 1000000000
HIGH_VALUE = 100000
MEDIUM_VALUE = 1000
SYSTEM_CLASSES = ("system-cluster-critical", "system-node-critical")
RESTARTING_OWNERS = ("ReplicaSet", "StatefulSet", "ReplicationController", "Job")
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"

_CLAUSE_RE = re.compile(r"^\s*([a-z_]+)\s*(==|!=|<=|>=|<|>)\s*(\S+)\s*$", re.IGNORECASE)
_OPS: Dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}
_STRING_FIELDS = ("namespace", "priority_class", "owner_kind", "qos")


class CriteriaError(ActionInputError):
    """The criteria text does not follow the grammar."""


def _get(obj: Any, *path: str) -> Any:
    """Read a nested field from a client model or a dict (None when absent)."""
    for part in path:
        if obj is None:
            return None
        obj = obj.get(part) if isinstance(obj, dict) else getattr(obj, part, None)
    return obj


def controller_owner(pod: Any) -> Optional[Any]:
    """The ownerReference with controller=true, if any."""
    for ref in _get(pod, "metadata", "owner_references") or []:
        if _get(ref, "controller"):
            return ref
    return None


def owner_kind(pod: Any) -> str:
    ref = controller_owner(pod)
    return str(_get(ref, "kind") or "") if ref is not None else ""


def is_daemonset_pod(pod: Any) -> bool:
    return owner_kind(pod) == "DaemonSet"


def is_mirror_pod(pod: Any) -> bool:
    return MIRROR_ANNOTATION in (_get(pod, "metadata", "annotations") or {})


def is_restartable(pod: Any) -> bool:
    return owner_kind(pod) in RESTARTING_OWNERS


def is_finished(pod: Any) -> bool:
    return _get(pod, "status", "phase") in ("Succeeded", "Failed")


def priority_level(pod: Any) -> str:
    """low | medium | high | critical: the higher of the value's and the class name's level."""
    cls = str(_get(pod, "spec", "priority_class_name") or "")
    value = _get(pod, "spec", "priority")
    if cls in SYSTEM_CLASSES:
        return "critical"
    by_value = "low"
    if value is not None:
        number = int(value)
        if number >= CRITICAL_VALUE:
            by_value = "critical"
        elif number >= HIGH_VALUE:
            by_value = "high"
        elif number >= MEDIUM_VALUE:
            by_value = "medium"
    by_name = next((lvl for lvl in ("critical", "high", "medium") if lvl in cls.lower()), "low")
    return max(by_value, by_name, key=LEVELS.index)


def pod_facts(pod: Any) -> Dict[str, Any]:
    """The facts the criteria and the results talk about."""
    return {
        "namespace": _get(pod, "metadata", "namespace") or "",
        "name": _get(pod, "metadata", "name") or "",
        "node": _get(pod, "spec", "node_name") or "",
        "priority": _get(pod, "spec", "priority"),
        "priority_class": _get(pod, "spec", "priority_class_name") or "",
        "priority_level": priority_level(pod),
        "owner_kind": owner_kind(pod),
        "owner_name": str(_get(controller_owner(pod), "name") or ""),
        "restartable": is_restartable(pod),
        "qos": _get(pod, "status", "qos_class") or "",
        "phase": _get(pod, "status", "phase") or "",
    }


Clause = Tuple[str, str, Any]


def parse_criteria(text: Optional[str]) -> List[Clause]:
    """Parse criteria into (field, op, value) clauses; raises CriteriaError."""
    text = (text or "").strip()
    if not text or text.lower() == "all":
        return []
    clauses: List[Clause] = []
    for part in re.split(r"\s+AND\s+", text, flags=re.IGNORECASE):
        match = _CLAUSE_RE.match(part)
        if not match:
            raise CriteriaError("criteria: cannot parse %r (expected `field op value`)" % part)
        field, op, raw = match.group(1).lower(), match.group(2), match.group(3).strip("'\"")
        clauses.append((field, op, _parse_value(field, op, raw)))
    return clauses


def _parse_value(field: str, op: str, raw: str) -> Any:
    if field == "priority":
        if raw.lower() in LEVELS:
            return raw.lower()
        try:
            return int(raw)
        except ValueError:
            raise CriteriaError("criteria: priority compares with %s or a number, got %r"
                                % ("/".join(LEVELS), raw)) from None
    if field == "restartable":
        if op not in ("==", "!="):
            raise CriteriaError("criteria: restartable supports == and != only")
        if raw.lower() not in ("true", "false"):
            raise CriteriaError("criteria: restartable is true or false, got %r" % raw)
        return raw.lower() == "true"
    if field in _STRING_FIELDS:
        if op not in ("==", "!="):
            raise CriteriaError("criteria: %s supports == and != only" % field)
        return raw
    raise CriteriaError("criteria: unknown field %r (known: priority, restartable, %s)"
                        % (field, ", ".join(_STRING_FIELDS)))


def matches(pod: Any, clauses: List[Clause]) -> bool:
    """True when the pod satisfies every clause."""
    facts = pod_facts(pod)
    for field, op, value in clauses:
        if field == "priority" and isinstance(value, str):
            left: Any = LEVELS.index(facts["priority_level"])
            right: Any = LEVELS.index(value)
        elif field == "priority":
            left, right = int(facts["priority"] or 0), value
        else:
            left, right = facts[field], value
        if not _OPS[op](left, right):
            return False
    return True


def never_movable_reason(pod: Any) -> Optional[str]:
    """Why a pod is never evicted by the healer (DaemonSet, mirror, finished), or None."""
    if is_mirror_pod(pod):
        return "mirror pod"
    if is_daemonset_pod(pod):
        return "DaemonSet pod"
    if is_finished(pod):
        return "finished pod"
    return None

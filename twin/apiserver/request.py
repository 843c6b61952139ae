"""A parsed API request and the small helpers that read it or shape responses (Status,
flags, partial object metadata, managedFields, Scale).
"""
from typing import Any, Dict, List, Optional, Tuple

from twin import resources
from twin.store import BadRequest


class Request:
    """A parsed resource request."""

    def __init__(self) -> None:
        self.rt: Optional[resources.ResourceType] = None
        self.group = ""
        self.version = ""
        self.namespace = ""
        self.name = ""
        self.subresource = ""
        self.verb = ""
        self.query: Dict[str, str] = {}
        self.watch = False


def _status(code: int, reason: str, message: str,
            details: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    out: Dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                           "status": "Failure", "message": message, "reason": reason}
    if details:
        out["details"] = details
    out["code"] = code
    return out


def _flag(value: Optional[str]) -> bool:
    """A boolean query parameter ("true", "True", "1")."""
    return (value or "").lower() in ("true", "1")


def _partial(obj: Dict[str, Any]) -> Dict[str, Any]:
    """The meta.k8s.io/v1 PartialObjectMetadata view (Accept: ...;as=PartialObjectMetadata)."""
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata") or {}}


def _fields_v1(value: Any) -> Dict[str, Any]:
    """A FieldsV1 set for an applied configuration (maps by key; lists as a whole)."""
    if not isinstance(value, dict):
        return {}
    return {"f:%s" % k: _fields_v1(v) for k, v in value.items()}


def store_iso(epoch: float) -> str:
    from twin.store import iso
    return iso(epoch)


def _discovery_path(path: str) -> bool:
    from twin.rbac import DISCOVERY_URLS
    return any(path == u or (u.endswith("*") and path.startswith(u[:-1]))
               for u in DISCOVERY_URLS)


def _dry_run(req: "Request") -> bool:
    """?dryRun=All: validate and answer, change nothing."""
    value = req.query.get("dryRun", "")
    if value and value != "All":
        raise BadRequest('Invalid dryRun value "%s": valid values are "All"' % value)
    return value == "All"


def _single_name(req: "Request") -> str:
    """The object a list/watch is limited to by fieldSelector=metadata.name=X (RBAC uses it
    for resourceNames, as the real authorizer does)."""
    fs = req.query.get("fieldSelector") or ""
    if req.verb in ("list", "watch") and fs.startswith("metadata.name=") and "," not in fs:
        return fs[len("metadata.name="):]
    return ""


def parse_path(path: str) -> Optional[Tuple[str, str, List[str], bool]]:
    """(group, version, rest parts, legacy watch) for a resource path, or None."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    legacy_watch = bool(rest) and rest[0] == "watch"
    if legacy_watch:
        rest = rest[1:]
    return group, version, rest, legacy_watch


def scale_of(obj: Dict[str, Any]) -> Dict[str, Any]:
    """The autoscaling/v1 Scale view of a deployment/replicaset/machinedeployment."""
    md = obj["metadata"]
    status = obj.get("status") or {}
    selector = status.get("selector")
    if not isinstance(selector, str):
        sel = (obj.get("spec") or {}).get("selector") or {}
        labels = sel.get("matchLabels") or {} if obj.get("kind") != "ReplicationController" \
            else sel
        selector = ",".join("%s=%s" % kv for kv in sorted(labels.items()))
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                            "creationTimestamp") if k in md},
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
            "status": {"replicas": status.get("replicas", 0), "selector": selector}}

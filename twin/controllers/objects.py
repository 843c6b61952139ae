"""Fields of Kubernetes objects every controller reads or writes: requests, conditions,
owner references, QoS class, timestamps, and core/v1 Events (quantities are read by
twin.quantities, LabelSelectors written as text by twin.selectors).
"""
import math
import time
from typing import Any, Dict, List, Optional, Tuple

from twin.quantities import parse_quantity
from twin.store import Store, copy_obj, iso


def pod_requests(pod: Dict[str, Any]) -> Tuple[float, float]:
    """(cpu cores, memory bytes) requested by a pod's containers."""
    cpu = mem = 0.0
    for c in (pod.get("spec") or {}).get("containers") or []:
        req = (c.get("resources") or {}).get("requests") or {}
        cpu += parse_quantity(req.get("cpu"))
        mem += parse_quantity(req.get("memory"))
    return cpu, mem


def _cond(obj: Dict[str, Any], ctype: str) -> Optional[Dict[str, Any]]:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def pod_ready(pod: Dict[str, Any]) -> bool:
    c = _cond(pod, "Ready")
    return bool(c and c.get("status") == "True") and not pod["metadata"].get(
        "deletionTimestamp")


def pod_terminal(pod: Dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def node_ready(node: Dict[str, Any]) -> bool:
    c = _cond(node, "Ready")
    return bool(c and c.get("status") == "True")


def controller_ref(obj: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def owner_reference(owner: Dict[str, Any], api_version: str, kind: str) -> Dict[str, Any]:
    """The controller ownerReference a controller puts on what it creates."""
    md = owner["metadata"]
    return {"apiVersion": api_version, "kind": kind, "name": md["name"], "uid": md["uid"],
            "controller": True, "blockOwnerDeletion": True}


def pod_template(owner: Dict[str, Any], restart_policy: Optional[str] = "Always") -> Tuple[
        Dict[str, Any], Dict[str, Any], Dict[str, Any]]:
    """A private copy of the owner's pod template, its metadata and its spec with the defaults
    the API server fills in (the spec is the template's own dict)."""
    template = copy_obj((owner.get("spec") or {}).get("template") or {})
    tmd = template.get("metadata") or {}
    spec = template.get("spec") or {}
    if restart_policy:
        spec.setdefault("restartPolicy", restart_policy)
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("priority", 0)
    return template, tmd, spec


def _set_condition(conds: List[Dict[str, Any]], ctype: str, status: str, reason: str,
                   message: str, now: str) -> List[Dict[str, Any]]:
    out = [c for c in conds if c.get("type") != ctype]
    old = next((c for c in conds if c.get("type") == ctype), None)
    if old is not None and old.get("status") == status and old.get("reason") == reason:
        out.append(old)
        return sorted(out, key=lambda c: c["type"])
    new = {"type": ctype, "status": status, "reason": reason, "message": message,
           "lastTransitionTime": now}
    if old is not None and old.get("status") == status:
        new["lastTransitionTime"] = old.get("lastTransitionTime", now)
    out.append(new)
    return sorted(out, key=lambda c: c["type"])


def _scaled(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        pct = float(value[:-1]) / 100.0 * total
        return int(math.ceil(pct)) if round_up else int(math.floor(pct))
    return int(value)


# --------------------------------------------------------------------------- events
def record_event(store: Store, obj: Dict[str, Any], reason: str, message: str,
                 etype: str = "Normal", component: str = "twin-controller-manager",
                 now: Optional[float] = None) -> None:
    """Create a core/v1 Event about `obj` (in its namespace, "default" for cluster objects)."""
    md = obj["metadata"]
    ts = iso(now if now is not None else store.now_fn())
    ns = md.get("namespace") or "default"
    store.create("events", {
        "metadata": {"name": "%s.%s" % (md["name"], store.random_suffix(10)), "namespace": ns},
        "involvedObject": {"kind": obj.get("kind"), "namespace": md.get("namespace", ""),
                           "name": md["name"], "uid": md.get("uid"),
                           "apiVersion": obj.get("apiVersion"),
                           "resourceVersion": md.get("resourceVersion")},
        "reason": reason, "message": message, "type": etype, "count": 1,
        "firstTimestamp": ts, "lastTimestamp": ts, "source": {"component": component},
        "reportingComponent": component, "reportingInstance": component})


def _qos(spec: Dict[str, Any]) -> str:
    containers = spec.get("containers") or []
    any_set = False
    guaranteed = bool(containers)
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in lim or parse_quantity(req.get(r, lim.get(r))) != parse_quantity(
                    lim.get(r)):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _epoch_of(ts: str) -> float:
    import calendar
    try:
        return float(calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")))
    except (TypeError, ValueError):
        return 0.0


def _neg(ts: str) -> str:
    return "".join(chr(255 - ord(c)) for c in ts)

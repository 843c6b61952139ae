"""meta.k8s.io/v1 Table rendering, so `kubectl get` prints the usual columns.

kubectl asks for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`; `wants_table(accept)`
says whether to answer with `table(resource, objects, resource_version, now)`. Ages use the
twin's (virtual) clock.
"""
import calendar
import time
from typing import Any, Callable, Dict, List, Tuple

Column = Tuple[str, str, int]  # (name, type, priority: 0 shown, 1 only with -o wide)


def wants_table(accept: str) -> bool:
    return "as=Table" in (accept or "")


def _epoch(ts: str) -> float:
    try:
        return float(calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")))
    except (TypeError, ValueError):
        return 0.0


def age(ts: str, now: float) -> str:
    """kubectl's short duration: 45s, 12m, 3h4m, 5d."""
    if not ts:
        return "<unknown>"
    s = int(now - _epoch(ts))
    if s < 0:
        return "<invalid>"
    if s < 120:
        return "%ds" % s
    if s < 3600:
        return "%dm" % (s // 60)
    if s < 8 * 3600:
        h, m = divmod(s // 60, 60)
        return "%dh%dm" % (h, m) if m else "%dh" % h
    if s < 2 * 86400:
        return "%dh" % (s // 3600)
    return "%dd" % (s // 86400)


def _cond(obj: Dict[str, Any], ctype: str) -> str:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c.get("status", "Unknown")
    return "Unknown"


def _node_row(o: Dict[str, Any], now: float) -> List[Any]:
    status = "Ready" if _cond(o, "Ready") == "True" else "NotReady"
    if (o.get("spec") or {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    labels = o["metadata"].get("labels") or {}
    roles = ",".join(sorted(k.split("/", 1)[1] for k in labels
                            if k.startswith("node-role.kubernetes.io/"))) or "<none>"
    info = (o.get("status") or {}).get("nodeInfo") or {}
    return [o["metadata"]["name"], status, roles,
            age(o["metadata"].get("creationTimestamp", ""), now),
            info.get("kubeletVersion", ""), labels.get("node-pool", "")]


def _pod_status(o: Dict[str, Any]) -> str:
    st = o.get("status") or {}
    reason = st.get("reason") or st.get("phase") or "Pending"
    if o["metadata"].get("deletionTimestamp"):
        return "Unknown" if st.get("reason") == "NodeLost" else "Terminating"
    for cs in st.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            return state["waiting"]["reason"]
        if state.get("terminated", {}).get("reason"):
            return state["terminated"]["reason"]
    return reason


def _pod_row(o: Dict[str, Any], now: float) -> List[Any]:
    st = o.get("status") or {}
    statuses = st.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    total = len((o.get("spec") or {}).get("containers") or [])
    restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
    return [o["metadata"]["name"], "%d/%d" % (ready, total), _pod_status(o), restarts,
            age(o["metadata"].get("creationTimestamp", ""), now), st.get("podIP") or "<none>",
            (o.get("spec") or {}).get("nodeName") or "<none>"]


def _deploy_row(o: Dict[str, Any], now: float) -> List[Any]:
    st, spec = o.get("status") or {}, o.get("spec") or {}
    return [o["metadata"]["name"], "%d/%d" % (st.get("readyReplicas", 0),
                                              spec.get("replicas", 1)),
            st.get("updatedReplicas", 0), st.get("availableReplicas", 0),
            age(o["metadata"].get("creationTimestamp", ""), now),
            ",".join(c.get("image", "") for c in ((spec.get("template") or {}).get(
                "spec") or {}).get("containers") or [])]


def _rs_row(o: Dict[str, Any], now: float) -> List[Any]:
    st, spec = o.get("status") or {}, o.get("spec") or {}
    return [o["metadata"]["name"], spec.get("replicas", 0), st.get("replicas", 0),
            st.get("readyReplicas", 0), age(o["metadata"].get("creationTimestamp", ""), now),
            (o["metadata"].get("annotations") or {}).get(
                "deployment.kubernetes.io/revision", "")]


def _event_row(o: Dict[str, Any], now: float) -> List[Any]:
    io = o.get("involvedObject") or {}
    return [age(o.get("lastTimestamp") or o["metadata"].get("creationTimestamp", ""), now),
            o.get("type", ""), o.get("reason", ""),
            "%s/%s" % ((io.get("kind") or "").lower(), io.get("name", "")),
            o.get("message", "")]


def _default_row(o: Dict[str, Any], now: float) -> List[Any]:
    return [o["metadata"]["name"], age(o["metadata"].get("creationTimestamp", ""), now)]


_LAYOUTS: Dict[str, Tuple[List[Column], Callable[[Dict[str, Any], float], List[Any]]]] = {
    "nodes": ([("Name", "string", 0), ("Status", "string", 0), ("Roles", "string", 0),
               ("Age", "string", 0), ("Version", "string", 0), ("Pool", "string", 1)],
              _node_row),
    "pods": ([("Name", "string", 0), ("Ready", "string", 0), ("Status", "string", 0),
              ("Restarts", "integer", 0), ("Age", "string", 0), ("IP", "string", 1),
              ("Node", "string", 1)], _pod_row),
    "deployments": ([("Name", "string", 0), ("Ready", "string", 0),
                     ("Up-to-date", "integer", 0), ("Available", "integer", 0),
                     ("Age", "string", 0), ("Images", "string", 1)], _deploy_row),
    "replicasets": ([("Name", "string", 0), ("Desired", "integer", 0),
                     ("Current", "integer", 0), ("Ready", "integer", 0), ("Age", "string", 0),
                     ("Revision", "string", 1)], _rs_row),
    "events": ([("Last Seen", "string", 0), ("Type", "string", 0), ("Reason", "string", 0),
                ("Object", "string", 0), ("Message", "string", 0)], _event_row),
}


def table(resource: str, objects: List[Dict[str, Any]], resource_version: str,
          now: float, include: str = "Metadata") -> Dict[str, Any]:
    """A Table for `objects` of one resource type; `include` is the includeObject parameter:
    "Metadata" (PartialObjectMetadata, the default), "Object" (the whole object, which
    `kubectl get --sort-by` needs) or "None"."""
    if include not in ("Metadata", "Object", "None"):
        from twin.store import BadRequest
        raise BadRequest('includeObject must be one of "None", "Metadata", "Object"')
    columns, row = _LAYOUTS.get(resource, ([("Name", "string", 0), ("Age", "string", 0)],
                                           _default_row))
    defs = [{"name": n, "type": t, "format": "name" if n == "Name" else "", "description": "",
             "priority": p} for n, t, p in columns]
    rows = []
    for o in objects:
        md = o.get("metadata") or {}
        item: Dict[str, Any] = {"cells": row(o, now)}
        if include == "Object":
            item["object"] = o
        elif include == "Metadata":
            item["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                              "metadata": md}
        rows.append(item)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": resource_version},
            "columnDefinitions": defs, "rows": rows}

"""Object semantics the API server applies on write: defaults, the fields clients may not
change, generation bumps, grace periods, orphaning, patch content types.
"""
import datetime
from typing import Any, Callable, Dict, Optional

from twin.store.errors import ApiError

_NODE_INFO = {"architecture": "amd64", "bootID": "", "containerRuntimeVersion": "containerd://1.7",
              "kernelVersion": "6.1.0", "kubeProxyVersion": "v1.31.0",
              "kubeletVersion": "v1.31.0", "machineID": "", "operatingSystem": "linux",
              "osImage": "Twin Linux", "systemUUID": ""}


def apply_defaults(resource: str, obj: Dict[str, Any]) -> None:
    """Fill fields real components always set and the official client insists on
    (node status.nodeInfo, container status image/imageID/ready/restartCount)."""
    if resource == "nodes":
        st = obj.get("status")
        if isinstance(st, dict):
            info = st.get("nodeInfo")
            if not isinstance(info, dict) or any(k not in info for k in _NODE_INFO):
                st["nodeInfo"] = dict(_NODE_INFO, **(info or {}))
    elif resource == "pods":
        st = obj.get("status")
        if not isinstance(st, dict):
            return
        images = {c.get("name"): c.get("image", "")
                  for c in (obj.get("spec") or {}).get("containers") or []}
        for key in ("containerStatuses", "initContainerStatuses"):
            for cs in st.get(key) or []:
                if "image" not in cs or "imageID" not in cs or "ready" not in cs \
                        or "restartCount" not in cs:
                    cs.setdefault("image", images.get(cs.get("name"), ""))
                    cs.setdefault("imageID", "")
                    cs.setdefault("ready", False)
                    cs.setdefault("restartCount", 0)


_FIXED = ("uid", "creationTimestamp", "namespace", "name")
_DELETION = ("deletionTimestamp", "deletionGracePeriodSeconds")


def _grace_period(resource: str, obj: Dict[str, Any], requested: Optional[int]) -> Optional[int]:
    """The pod strategy's CheckGracefulDelete: seconds a deleted pod may take to stop (None =
    delete at once: not a pod, unbound, finished, or grace 0 asked for)."""
    if resource != "pods":
        return None
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
        return None
    period = requested if requested is not None else spec.get("terminationGracePeriodSeconds",
                                                               30)
    period = int(period)
    if period < 0:
        period = 1
    return period or None


def _epoch(ts: str) -> float:
    try:
        return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except (TypeError, ValueError):
        return 0.0


def _orphan(owner_uid: str) -> Callable[[Dict[str, Any]], None]:
    def fn(obj: Dict[str, Any]) -> None:
        refs = [r for r in obj["metadata"].get("ownerReferences") or []
                if r.get("uid") != owner_uid]
        if refs:
            obj["metadata"]["ownerReferences"] = refs
        else:
            obj["metadata"].pop("ownerReferences", None)
    return fn


def _spec_changed(old: Dict[str, Any], new: Dict[str, Any]) -> bool:
    for k in set(old) | set(new):
        if k in ("metadata", "status", "apiVersion", "kind"):
            continue
        if old.get(k) != new.get(k):
            return True
    return False


def _same(old: Dict[str, Any], new: Dict[str, Any]) -> bool:
    """Equal ignoring resourceVersion (no-op writes keep the version, like the real server)."""
    omd, nmd = old.get("metadata", {}), new.get("metadata", {})
    if {k: v for k, v in omd.items() if k != "resourceVersion"} != \
            {k: v for k, v in nmd.items() if k != "resourceVersion"}:
        return False
    return all(old.get(k) == new.get(k) for k in set(old) | set(new) if k != "metadata")


def _patch_kind(patch_type: str) -> str:
    t = patch_type.lower()
    if "json-patch" in t or t == "json":
        return "json"
    if "strategic" in t:
        return "strategic"
    if "merge" in t:
        return "merge"
    if "apply-patch" in t or t == "apply":
        raise ApiError("server-side apply is not supported by the twin", code=415,
                       reason="UnsupportedMediaType")
    raise ApiError("the body of the request was in an unknown format - accepted media types "
                   "include: application/json-patch+json, application/merge-patch+json, "
                   "application/apply-patch+yaml", code=415, reason="UnsupportedMediaType")

"""Deployment remediation: revision history, rollout undo, scale, rolling restart, rollout status.

`rollback` does what `kubectl rollout undo` does: it copies the pod template of the target
revision's ReplicaSet (without its `pod-template-hash` label) into the Deployment, and the
Deployment controller rolls out to it.
"""
import copy
from typing import Any, Dict, List, Optional

from lib import clock
from lib.base_action import ANN_INCIDENT, ANNOTATION_PREFIX, ActionInputError
from lib.conflicts import retry_on_conflict

REVISION_ANN = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
ANN_ROLLED_BACK = ANNOTATION_PREFIX + "rolled-back-for"
ANN_RESTARTED_FOR = ANNOTATION_PREFIX + "restarted-for"


def read_deployment(kube: Any, namespace: str, name: str) -> Any:
    return kube.call(kube.apps.read_namespaced_deployment, name, namespace)


def image_tag(image: str) -> str:
    """`registry.local/app:v1.4.2` -> `v1.4.2` (digest or no tag -> the whole reference)."""
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return last.split("@", 1)[1]
    return last.split(":", 1)[1] if ":" in last else "latest"


def template_version(template: Any, main_container: str) -> Dict[str, Any]:
    """Images of a pod template and the version (tag of the main or first container)."""
    containers = list(template.spec.containers or []) if template and template.spec else []
    images = {c.name: c.image for c in containers}
    main = next((c for c in containers if c.name == main_container),
                containers[0] if containers else None)
    return {"images": images, "version": image_tag(main.image) if main else ""}


def owned_replicasets(kube: Any, deployment: Any) -> List[Any]:
    """ReplicaSets controlled by the Deployment (by ownerReference uid, else by selector)."""
    ns = deployment.metadata.namespace
    labels = (deployment.spec.selector.match_labels or {}) if deployment.spec.selector else {}
    selector = ",".join("%s=%s" % kv for kv in sorted(labels.items()))
    items = kube.call(kube.apps.list_namespaced_replica_set, ns, label_selector=selector).items
    owned = []
    for rs in items or []:
        refs = rs.metadata.owner_references or []
        if any(r.uid == deployment.metadata.uid and r.kind == "Deployment" for r in refs):
            owned.append(rs)
    return owned


def revision_of(obj: Any) -> int:
    try:
        return int((obj.metadata.annotations or {}).get(REVISION_ANN, "0"))
    except (TypeError, ValueError):
        return 0


def _normalise_template(template: Any, api: Any) -> Dict[str, Any]:
    """A pod template as a plain dict without the pod-template-hash label (for comparing)."""
    data = api.sanitize_for_serialization(template) if not isinstance(template, dict) \
        else copy.deepcopy(template)
    labels = (data.get("metadata") or {}).get("labels") or {}
    labels.pop(HASH_LABEL, None)
    return data


def history(kube: Any, namespace: str, name: str) -> Dict[str, Any]:
    """Revision history of a Deployment, newest first, with times and versions."""
    dep = read_deployment(kube, namespace, name)
    current_rev = revision_of(dep)
    revisions = []
    for rs in owned_replicasets(kube, dep):
        created = rs.metadata.creation_timestamp
        revisions.append({
            "revision": revision_of(rs), "replicaset": rs.metadata.name,
            "created_at": clock.isoformat(created.timestamp()) if created else "",
            "created_epoch": created.timestamp() if created else 0.0,
            "replicas": int(rs.status.replicas or 0) if rs.status else 0,
            **template_version(rs.spec.template, name)})
    revisions.sort(key=lambda r: r["revision"], reverse=True)
    if not current_rev and revisions:
        current_rev = revisions[0]["revision"]
    return {"deployment": dep, "current_revision": current_rev, "revisions": revisions,
            "current_version": template_version(dep.spec.template, name)["version"]}


def recent_deploys(kube: Any, namespace: str, name: str, within_minutes: float) -> Dict[str, Any]:
    """History plus whether the current revision was rolled out within the window."""
    info = history(kube, namespace, name)
    now = clock.now()
    current = next((r for r in info["revisions"] if r["revision"] == info["current_revision"]),
                   None)
    previous = next((r for r in info["revisions"] if r["revision"] < info["current_revision"]),
                    None)
    age_min = (now - current["created_epoch"]) / 60.0 if current else None
    within = bool(current and age_min is not None and age_min <= within_minutes)
    for rev in info["revisions"]:
        rev.pop("created_epoch", None)
    return {
        "namespace": namespace, "deployment": name,
        "current_revision": info["current_revision"], "current_version": info["current_version"],
        "previous_revision": previous["revision"] if previous else 0,
        "previous_version": previous["version"] if previous else "",
        "deployed_at": current["created_at"] if current else "",
        "minutes_since_deploy": round(age_min, 1) if age_min is not None else None,
        "within_minutes": within_minutes, "deployed_within_window": within,
        "rollback_possible": previous is not None,
        "replicas": int(info["deployment"].spec.replicas or 0),
        "revisions": info["revisions"]}


def rollback(kube: Any, namespace: str, name: str, to_revision: int = 0, incident_id: str = "",
             dry_run: bool = False) -> Dict[str, Any]:
    """`kubectl rollout undo` (to the previous revision, or `to_revision`)."""
    def attempt() -> Dict[str, Any]:
        info = history(kube, namespace, name)
        dep = info["deployment"]
        current = info["current_revision"]
        ann = dep.metadata.annotations or {}
        if incident_id and ann.get(ANN_ROLLED_BACK) == incident_id and not to_revision:
            return {"changed": False, "from_revision": current, "to_revision": current,
                    "from_version": info["current_version"], "to_version": info["current_version"],
                    "would": "nothing: already rolled back for incident %s" % incident_id}
        if to_revision:
            target = next((r for r in info["revisions"] if r["revision"] == to_revision), None)
            if target is None:
                raise ActionInputError("to_revision: revision %d of %s/%s not found" % (
                    to_revision, namespace, name))
        else:
            target = next((r for r in info["revisions"] if r["revision"] < current), None)
            if target is None:
                raise ActionInputError("deployment %s/%s has no previous revision" % (
                    namespace, name))
        rs = kube.call(kube.apps.read_namespaced_replica_set, target["replicaset"], namespace)
        api = kube.api
        new_template = _normalise_template(rs.spec.template, api)
        old_template = _normalise_template(dep.spec.template, api)
        result = {"from_revision": current, "to_revision": target["revision"],
                  "from_version": info["current_version"], "to_version": target["version"],
                  "to_images": target["images"],
                  "would": "roll %s/%s back from revision %d (%s) to revision %d (%s)" % (
                      namespace, name, current, info["current_version"], target["revision"],
                      target["version"])}
        if new_template == old_template:
            result.update(changed=False, would="nothing: %s/%s already runs revision %d's "
                          "template" % (namespace, name, target["revision"]))
            return result
        if dry_run:
            result["changed"] = False
            return result
        # A JSON patch (as kubectl rollout undo) that carries the resourceVersion we read, so
        # a concurrent change makes the server answer 409 and we start over.
        annotations = dict(ann)
        if incident_id:
            annotations.update({ANN_ROLLED_BACK: incident_id, ANN_INCIDENT: incident_id})
        ops = [{"op": "replace", "path": "/spec/template", "value": new_template},
               {"op": "add", "path": "/metadata/annotations", "value": annotations},
               {"op": "replace", "path": "/metadata/resourceVersion",
                "value": dep.metadata.resource_version}]
        kube.call(kube.apps.patch_namespaced_deployment, name, namespace, ops)
        result["changed"] = True
        return result

    result = retry_on_conflict(attempt)
    result.update(namespace=namespace, deployment=name)
    result["revert"] = {"action": "self_healing.rollback_deployment", "parameters": {
        "namespace": namespace, "deployment": name, "to_revision": result["from_revision"]}}
    return result


def scale(kube: Any, namespace: str, name: str, replicas: Optional[int] = None,
          delta: Optional[int] = None, min_replicas: int = 1, max_replicas: int = 0,
          dry_run: bool = False) -> Dict[str, Any]:
    """Set (replicas) or change (delta) a Deployment's replicas through the scale subresource."""
    if replicas is None and not delta:
        raise ActionInputError("replicas or delta: one of them is required")

    def attempt() -> Dict[str, Any]:
        current = kube.call(kube.apps.read_namespaced_deployment_scale, name, namespace)
        before = int(current.spec.replicas or 0)
        wanted = int(replicas) if replicas is not None else before + int(delta or 0)
        bounded = max(wanted, min_replicas)
        if max_replicas:
            bounded = min(bounded, max_replicas)
        result = {"namespace": namespace, "deployment": name, "previous_replicas": before,
                  "replicas": bounded, "requested_replicas": wanted,
                  "limited": bounded != wanted,
                  "would": "scale %s/%s from %d to %d replicas" % (namespace, name, before,
                                                                    bounded)}
        if bounded == before:
            result.update(changed=False, would="nothing: %s/%s already has %d replicas" % (
                namespace, name, before))
            return result
        if not dry_run:
            kube.call(kube.apps.patch_namespaced_deployment_scale, name, namespace,
                      {"spec": {"replicas": bounded}})
        result["changed"] = not dry_run
        return result

    result = retry_on_conflict(attempt)
    result["revert"] = {"action": "self_healing.scale_deployment", "parameters": {
        "namespace": namespace, "deployment": name, "replicas": result["previous_replicas"]}}
    result["hpa"] = hpa_for(kube, namespace, name)
    return result


def hpa_for(kube: Any, namespace: str, name: str) -> Optional[Dict[str, Any]]:
    """The HPA targeting this Deployment (it may override a manual scale), if any."""
    try:
        hpas = kube.call(kube.autoscaling.list_namespaced_horizontal_pod_autoscaler,
                         namespace).items or []
    except Exception:  # an HPA lookup never fails the scale itself
        return None
    for hpa in hpas:
        ref = hpa.spec.scale_target_ref
        if ref and ref.kind == "Deployment" and ref.name == name:
            return {"name": hpa.metadata.name, "min_replicas": hpa.spec.min_replicas,
                    "max_replicas": hpa.spec.max_replicas}
    return None


def restart(kube: Any, namespace: str, name: str, incident_id: str = "",
            dry_run: bool = False) -> Dict[str, Any]:
    """Rolling restart (`kubectl rollout restart`): stamp the template's restartedAt."""
    def attempt() -> Dict[str, Any]:
        dep = read_deployment(kube, namespace, name)
        ann = dep.metadata.annotations or {}
        tpl_ann = (dep.spec.template.metadata.annotations or {}) if dep.spec.template.metadata \
            else {}
        base = {"namespace": namespace, "deployment": name,
                "previous_restarted_at": tpl_ann.get(RESTARTED_AT, "")}
        if incident_id and ann.get(ANN_RESTARTED_FOR) == incident_id:
            base.update(changed=False, restarted_at=tpl_ann.get(RESTARTED_AT, ""),
                        would="nothing: already restarted for incident %s" % incident_id)
            return base
        stamp = clock.isoformat(clock.now())
        base.update(restarted_at=stamp, would="rolling restart of %s/%s" % (namespace, name))
        if dry_run:
            base["changed"] = False
            return base
        patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        if incident_id:
            patch["metadata"] = {"annotations": {ANN_RESTARTED_FOR: incident_id,
                                                 ANN_INCIDENT: incident_id}}
        kube.call(kube.apps.patch_namespaced_deployment, name, namespace, patch)
        base["changed"] = True
        return base

    return retry_on_conflict(attempt)


def rollout_status(dep: Any) -> Dict[str, Any]:
    """What `kubectl rollout status` looks at, plus `complete` and `failed`."""
    spec_replicas = int(dep.spec.replicas if dep.spec.replicas is not None else 1)
    st = dep.status
    status = {
        "generation": int(dep.metadata.generation or 0),
        "observed_generation": int(st.observed_generation or 0) if st else 0,
        "replicas": spec_replicas,
        "updated_replicas": int(st.updated_replicas or 0) if st else 0,
        "ready_replicas": int(st.ready_replicas or 0) if st else 0,
        "available_replicas": int(st.available_replicas or 0) if st else 0,
        "status_replicas": int(st.replicas or 0) if st else 0,
    }
    conditions = (st.conditions or []) if st else []
    failed = any(c.type == "Progressing" and c.reason == "ProgressDeadlineExceeded"
                 for c in conditions)
    status["complete"] = (status["observed_generation"] >= status["generation"]
                          and status["updated_replicas"] >= spec_replicas
                          and status["status_replicas"] <= status["updated_replicas"]
                          and status["available_replicas"] >= spec_replicas)
    status["failed"] = failed and not status["complete"]
    return status


def wait_rollout(kube: Any, namespace: str, name: str, timeout_s: float,
                 poll_s: float) -> Dict[str, Any]:
    """Poll until the rollout completes, fails (progress deadline) or times out."""
    start = clock.now()
    polls = 0
    while True:
        status = rollout_status(read_deployment(kube, namespace, name))
        polls += 1
        remaining = timeout_s - (clock.now() - start)
        if status["complete"] or status["failed"] or remaining <= 0:
            break
        clock.sleep(min(poll_s, remaining) if poll_s > 0 else min(1.0, remaining))
    return {"namespace": namespace, "deployment": name, "complete": status["complete"],
            "failed": status["failed"],
            "timed_out": not status["complete"] and not status["failed"],
            "waited_s": round(clock.now() - start, 3), "polls": polls, "status": status}

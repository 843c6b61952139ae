"""Deployment rollouts and `kubectl rollout undo` done the way kubectl does it, via the client."""
import pytest
from api_harness import deployment, running

REVISION = "deployment.kubernetes.io/revision"


@pytest.fixture
def twin(tmp_path):
    yield from running(str(tmp_path))


def _replicasets(t, name="web"):
    rss = t.admin.apps.list_namespaced_replica_set("prod", label_selector="app=%s" % name).items
    return sorted(rss, key=lambda rs: int(rs.metadata.annotations[REVISION]))


def _images(t):
    return sorted({p.spec.containers[0].image
                   for p in t.admin.core.list_namespaced_pod("prod").items})


def rollout_undo(apps, name, namespace, to_revision=0):
    """What `kubectl rollout undo` does: copy the previous ReplicaSet's template into the
    Deployment (minus pod-template-hash) with a JSON patch."""
    dep = apps.read_namespaced_deployment(name, namespace)
    rss = [rs for rs in apps.list_namespaced_replica_set(namespace).items
           if any(ref.uid == dep.metadata.uid for ref in rs.metadata.owner_references or [])]
    by_rev = {int(rs.metadata.annotations[REVISION]): rs for rs in rss}
    current = int(dep.metadata.annotations[REVISION])
    if to_revision == 0:
        to_revision = max(r for r in by_rev if r < current)
    template = apps.api_client.sanitize_for_serialization(by_rev[to_revision].spec.template)
    template["metadata"]["labels"].pop("pod-template-hash", None)
    annotations = {k: v for k, v in (dep.metadata.annotations or {}).items()
                   if k != "kubectl.kubernetes.io/last-applied-configuration"}
    apps.patch_namespaced_deployment(name, namespace, [
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations}])


def test_rolling_update_creates_new_revision_and_scales_old_down(twin):
    twin.admin.apps.create_namespaced_deployment("prod", deployment("web", replicas=4))
    twin.steps(3)
    (rs1,) = _replicasets(twin)
    assert rs1.metadata.annotations[REVISION] == "1"
    assert rs1.metadata.labels["pod-template-hash"] in rs1.metadata.name
    twin.sa.apps.patch_namespaced_deployment("web", "prod", {"spec": {"template": {"spec": {
        "containers": [{"name": "web", "image": "registry.local/web:v2"}]}}}})
    twin.steps(1)
    mid = twin.admin.apps.read_namespaced_deployment("web", "prod")
    assert mid.metadata.generation == 2
    # maxSurge 1 / maxUnavailable 0: never fewer than 4 ready pods during the rollout
    seen_images = set()
    for _ in range(12):
        twin.steps(1)
        pods = twin.admin.core.list_namespaced_pod("prod").items
        ready = [p for p in pods if p.status.phase == "Running"]
        assert len(ready) >= 4 and len(pods) <= 5
        seen_images |= {p.spec.containers[0].image for p in pods}
    assert seen_images == {"registry.local/web:v1", "registry.local/web:v2"}
    rs1, rs2 = _replicasets(twin)
    assert (rs1.spec.replicas, rs2.spec.replicas) == (0, 4)
    assert rs2.metadata.annotations[REVISION] == "2"
    assert _images(twin) == ["registry.local/web:v2"]
    dep = twin.admin.apps.read_namespaced_deployment_status("web", "prod")
    assert dep.metadata.annotations[REVISION] == "2"
    assert dep.status.updated_replicas == 4 and dep.status.available_replicas == 4
    progressing = [c for c in dep.status.conditions if c.type == "Progressing"][0]
    assert progressing.reason == "NewReplicaSetAvailable"


def test_rollout_undo_restores_previous_template_and_reuses_its_replicaset(twin):
    twin.admin.apps.create_namespaced_deployment("prod", deployment("web", replicas=3))
    twin.steps(3)
    twin.admin.apps.patch_namespaced_deployment("web", "prod", {"spec": {"template": {
        "spec": {"containers": [{"name": "web", "image": "registry.local/web:v2"}]}}}})
    twin.steps(12)
    rs1, rs2 = _replicasets(twin)
    assert _images(twin) == ["registry.local/web:v2"]

    rollout_undo(twin.admin.apps, "web", "prod")
    twin.steps(12)
    dep = twin.admin.apps.read_namespaced_deployment("web", "prod")
    assert dep.spec.template.spec.containers[0].image == "registry.local/web:v1"
    assert _images(twin) == ["registry.local/web:v1"]
    rss = _replicasets(twin)
    assert [rs.metadata.name for rs in rss] == [rs2.metadata.name, rs1.metadata.name]
    back = rss[-1]
    assert back.metadata.annotations[REVISION] == "3"
    assert back.metadata.annotations["deployment.kubernetes.io/revision-history"] == "1"
    assert back.spec.replicas == 3 and rss[0].spec.replicas == 0
    assert dep.metadata.annotations[REVISION] == "3"
    # undo again goes back to v2 (revision 2 -> 4), as kubectl does
    rollout_undo(twin.admin.apps, "web", "prod")
    twin.steps(12)
    assert _images(twin) == ["registry.local/web:v2"]


def test_scale_subresource_and_revision_history_limit(twin):
    dep = deployment("web", replicas=2)
    dep["spec"]["revisionHistoryLimit"] = 1
    twin.admin.apps.create_namespaced_deployment("prod", dep)
    twin.steps(2)
    scale = twin.sa.apps.read_namespaced_deployment_scale("web", "prod")
    assert scale.spec.replicas == 2 and scale.status.selector == "app=web"
    twin.sa.apps.patch_namespaced_deployment_scale("web", "prod", {"spec": {"replicas": 5}})
    twin.steps(2)
    assert len(twin.admin.core.list_namespaced_pod("prod").items) == 5
    for version in ("v2", "v3"):
        twin.admin.apps.patch_namespaced_deployment("web", "prod", {"spec": {"template": {
            "spec": {"containers": [{"name": "web", "image": "registry.local/web:" + version}]}}}})
        twin.steps(15)
    revisions = [rs.metadata.annotations[REVISION] for rs in _replicasets(twin)]
    assert revisions == ["2", "3"]  # one old ReplicaSet kept


def test_deleting_deployment_cascades_to_replicasets_and_pods(twin):
    twin.admin.apps.create_namespaced_deployment("prod", deployment("web", replicas=2))
    twin.steps(2)
    assert twin.admin.core.list_namespaced_pod("prod").items
    twin.admin.apps.delete_namespaced_deployment("web", "prod")
    assert not twin.admin.apps.list_namespaced_replica_set("prod").items
    pods = twin.admin.core.list_namespaced_pod("prod").items
    assert pods and all(p.metadata.deletion_timestamp is not None for p in pods)
    twin.steps(1)
    assert not twin.admin.core.list_namespaced_pod("prod").items

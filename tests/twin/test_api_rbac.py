"""RBAC: the ServiceAccount kubeconfig gets exactly what its ClusterRole grants (403 otherwise)."""
import json
import urllib.request

import pytest
from api_harness import RBAC_FIXTURE, Twin, deployment, node
from kubernetes.client.rest import ApiException

from twin.rbac import Authorizer


@pytest.fixture
def twin(tmp_path):
    t = Twin(str(tmp_path))
    t.admin.core.create_node(node("node-a"))
    t.admin.apps.create_namespaced_deployment("prod", deployment("web", replicas=1))
    t.admin.core.create_namespaced_config_map("prod", {
        "metadata": {"name": "web-db-pool"}, "data": {"maximumPoolSize": "20"}})
    t.admin.core.create_namespaced_config_map("prod", {
        "metadata": {"name": "other"}, "data": {}})
    t.steps(2)
    yield t
    t.stop()


def test_verb_outside_the_cluster_role_is_forbidden(twin):
    pod = twin.sa.core.list_namespaced_pod("prod").items[0]
    with pytest.raises(ApiException) as exc:
        twin.sa.core.delete_namespaced_pod(pod.metadata.name, "prod")
    assert exc.value.status == 403
    body = json.loads(exc.value.body)
    assert body["kind"] == "Status" and body["reason"] == "Forbidden"
    assert body["message"] == (
        'pods "%s" is forbidden: User "system:serviceaccount:self-healing:self-healing" cannot '
        'delete resource "pods" in API group "" in the namespace "prod"' % pod.metadata.name)
    assert twin.admin.core.read_namespaced_pod(pod.metadata.name, "prod")  # still there


def test_granted_calls_succeed_and_are_logged(twin):
    twin.sa.core.list_node()
    twin.sa.core.patch_node("node-a", {"spec": {"unschedulable": True}})
    twin.sa.apps.read_namespaced_deployment_scale("web", "prod")
    twin.sa.core.create_namespaced_event("prod", {
        "metadata": {"name": "web.audit1"}, "involvedObject": {"kind": "Deployment",
                                                               "name": "web"},
        "reason": "Rollback", "message": "x", "type": "Normal",
        "reportingComponent": "self-healing"})
    used = twin.api.authorizer.used_permissions()
    assert used == {("", "nodes", "list"), ("", "nodes", "patch"),
                    ("apps", "deployments/scale", "get"), ("", "events", "create")}
    assert not twin.api.authorizer.denied()
    unused = twin.api.authorizer.unused_grants()
    assert ("", "pods/eviction", "create") in unused
    assert ("", "nodes", "list") not in unused


def test_subresources_and_scope_are_separate_permissions(twin):
    with pytest.raises(ApiException) as exc:  # nodes/status is not nodes
        twin.sa.core.patch_node_status("node-a", {"status": {"conditions": []}})
    assert exc.value.status == 403
    with pytest.raises(ApiException) as exc:  # deployments/status is not deployments
        twin.sa.apps.read_namespaced_deployment_status("web", "prod")
    assert exc.value.status == 403
    with pytest.raises(ApiException) as exc:  # deployments get yes, update (PUT) no
        dep = twin.sa.apps.read_namespaced_deployment("web", "prod")
        twin.sa.apps.replace_namespaced_deployment("web", "prod", dep)
    assert exc.value.status == 403
    denied = twin.api.authorizer.denied()
    assert [(d["verb"], d["resource"], d["subresource"]) for d in denied] == [
        ("patch", "nodes", "status"), ("get", "deployments", "status"),
        ("update", "deployments", "")]


def test_resource_names_limit_access(twin):
    cm = twin.sa.core.read_namespaced_config_map("web-db-pool", "prod")
    assert cm.data["maximumPoolSize"] == "20"
    twin.sa.core.patch_namespaced_config_map("web-db-pool", "prod",
                                             {"data": {"maximumPoolSize": "30"}})
    with pytest.raises(ApiException) as exc:
        twin.sa.core.read_namespaced_config_map("other", "prod")
    assert exc.value.status == 403
    with pytest.raises(ApiException) as exc:  # list cannot be limited by name
        twin.sa.core.list_namespaced_config_map("prod")
    assert exc.value.status == 403


def test_unknown_token_is_401_and_discovery_is_open(twin):
    req = urllib.request.Request(twin.api.url + "/api/v1/nodes",
                                 headers={"Authorization": "Bearer nope"})
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req, timeout=5)
    assert exc.value.code == 401
    req = urllib.request.Request(twin.api.url + "/version",
                                 headers={"Authorization": "Bearer " + twin.api.sa_token})
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert json.loads(resp.read())["major"] == "1"


def test_roles_come_from_bindings_in_deploy_dir(tmp_path):
    (tmp_path / "rbac.yaml").write_text("""
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: healer}
rules:
- apiGroups: [""]
  resources: [nodes]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: unbound}
rules:
- apiGroups: ["*"]
  resources: ["*"]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: events, namespace: self-healing}
rules:
- apiGroups: [""]
  resources: [events]
  verbs: [create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: healer}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: healer}
subjects: [{kind: ServiceAccount, name: self-healing, namespace: self-healing}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: events, namespace: self-healing}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: events}
subjects: [{kind: ServiceAccount, name: self-healing, namespace: self-healing}]
""")
    authz = Authorizer.from_deploy_dir(str(tmp_path))
    sa = authz.sa_user
    assert authz.authorize(sa, False, "list", "", "nodes")[0]
    assert not authz.authorize(sa, False, "patch", "", "nodes", name="n1")[0]
    assert authz.authorize(sa, False, "create", "", "events", namespace="self-healing")[0]
    assert not authz.authorize(sa, False, "create", "", "events", namespace="prod")[0]
    assert not authz.authorize(sa, False, "delete", "apps", "deployments", namespace="x")[0]


def test_the_packs_deploy_manifests_load_and_bind_the_service_account():
    import os
    deploy = os.path.join(os.path.dirname(__file__), "..", "..", "deploy")
    if not os.path.isdir(deploy):
        pytest.skip("deploy/ not present")
    authz = Authorizer.from_deploy_dir(deploy)
    assert authz.rules, "the ServiceAccount is bound to at least one role"
    sa = authz.sa_user
    assert authz.authorize(sa, False, "create", "", "pods", "eviction", "prod", "p")[0]
    assert not authz.authorize(sa, False, "get", "", "secrets", "", "prod", "s")[0]
    assert not authz.authorize(sa, False, "escalate", "rbac.authorization.k8s.io",
                               "clusterroles")[0]


def test_resource_names_apply_to_a_list_or_watch_of_that_one_object(tmp_path):
    docs = [dict(RBAC_FIXTURE[0], rules=[{"apiGroups": [""], "resources": ["configmaps"],
                                          "verbs": ["list", "watch"],
                                          "resourceNames": ["web-db-pool"]}]),
            RBAC_FIXTURE[1]]
    t = Twin(str(tmp_path), rbac_docs=docs)
    try:
        for name in ("web-db-pool", "other"):
            t.admin.core.create_namespaced_config_map("prod", {"metadata": {"name": name}})
        got = t.sa.core.list_namespaced_config_map(
            "prod", field_selector="metadata.name=web-db-pool")
        assert [c.metadata.name for c in got.items] == ["web-db-pool"]
        for selector in ("metadata.name=other", None):
            with pytest.raises(ApiException) as exc:
                t.sa.core.list_namespaced_config_map("prod", field_selector=selector)
            assert exc.value.status == 403
    finally:
        t.stop()

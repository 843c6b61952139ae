"""deploy/: the healer's Kubernetes identity, and RBAC stays least privilege (the workload is
StackStorm itself: deploy/stackstorm-ha-values.yaml, tests/test_stackstorm_ha_overlay.py)."""
import glob
import os

import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _docs():
    docs = []
    paths = sorted(glob.glob(os.path.join(REPO_ROOT, "deploy", "*.yaml")))
    for path in [p for p in paths if not p.endswith("-values.yaml")]:
        with open(path) as handle:
            docs += [d for d in yaml.safe_load_all(handle) if d]
    return docs


def _one(kind):
    (doc,) = [d for d in _docs() if d["kind"] == kind]
    return doc


def test_every_doc_is_a_kubernetes_object():
    for doc in _docs():
        assert doc.get("apiVersion") and doc.get("kind") and doc["metadata"].get("name"), doc


def test_binding_ties_the_service_account_to_the_cluster_role():
    account = _one("ServiceAccount")
    binding = _one("ClusterRoleBinding")
    assert (account["metadata"]["namespace"], account["metadata"]["name"]) == \
        ("self-healing", "self-healing")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": _one("ClusterRole")["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "self-healing",
                                    "namespace": "self-healing"}]


def test_cluster_role_is_narrow_and_covers_what_remediation_calls():
    rules = _one("ClusterRole")["rules"]
    grants = {(g, r, v) for rule in rules for g in rule["apiGroups"]
              for r in rule["resources"] for v in rule["verbs"]}
    for group, resource, verb in grants:
        assert "*" not in (group, resource, verb)
        assert resource not in ("secrets", "clusterroles", "clusterrolebindings", "roles")
        assert verb not in ("escalate", "bind", "impersonate", "deletecollection")
    needed = [("", "nodes", "get list patch"), ("", "pods", "get list"),
              ("", "pods/eviction", "create"), ("", "pods/log", "get"),
              ("apps", "deployments", "get list patch"), ("apps", "replicasets", "get list"),
              ("apps", "deployments/scale", "get patch"),
              ("autoscaling", "horizontalpodautoscalers", "list"),
              ("cluster.x-k8s.io", "machinedeployments/scale", "patch")]
    for group, resource, verbs in needed:
        for verb in verbs.split():
            assert (group, resource, verb) in grants, (group, resource, verb)
    # Pods are restarted through the Eviction API, never deleted; nodes are never deleted.
    for absent in [("", "pods", "delete"), ("", "nodes", "delete"), ("", "pods", "create")]:
        assert absent not in grants, absent

"""Protocol fidelity for real clients: discovery of pods/eviction in policy/v1, access reviews
answered by the twin's RBAC, protobuf bodies refused with 415, server dry-run acting on
nothing (eviction, scale), includeObject in tables, batch/v1 Jobs."""
import json

import pytest
from api_harness import deployment, node, running
from kubernetes import client
from kubernetes.client.rest import ApiException


@pytest.fixture
def twin(tmp_path):
    yield from running(str(tmp_path))


def _raw(t, path, method="GET", body=None, headers=None, who="admin"):
    api = getattr(t, who).api_client
    resp = api.call_api(path, method, body=body, header_params=headers or {},
                        auth_settings=["BearerToken"], _preload_content=False)
    return resp[1], json.loads(resp[0].data or b"null")


def test_discovery_lists_eviction_in_policy_v1(twin):
    _code, listing = _raw(twin, "/api/v1")
    eviction = [r for r in listing["resources"] if r["name"] == "pods/eviction"][0]
    assert (eviction["group"], eviction["version"], eviction["kind"]) == (
        "policy", "v1", "Eviction")
    assert eviction["verbs"] == ["create"]


def test_self_subject_access_review_follows_rbac(twin):
    authz = client.AuthorizationV1Api(twin.sa.api_client)

    def can(verb, resource, sub="", ns="prod"):
        review = authz.create_self_subject_access_review({"spec": {"resourceAttributes": {
            "verb": verb, "resource": resource, "subresource": sub, "namespace": ns}}})
        return review.status.allowed
    assert can("create", "pods", "eviction") is True
    assert can("delete", "pods") is False
    assert can("get", "configmaps") is False  # only resourceNames web-db-pool
    rules = authz.create_self_subject_rules_review({"spec": {"namespace": "prod"}})
    flat = {(tuple(r.api_groups), tuple(r.resources), tuple(r.verbs))
            for r in rules.status.resource_rules}
    assert (("",), ("pods/eviction",), ("create",)) in flat
    with pytest.raises(ApiException) as exc:  # SubjectAccessReview needs its own permission
        authz.create_subject_access_review({"spec": {"user": "x", "resourceAttributes": {
            "verb": "get", "resource": "pods"}}})
    assert exc.value.status == 403
    admin = client.AuthorizationV1Api(twin.admin.api_client)
    sar = admin.create_subject_access_review({"spec": {
        "user": "system:serviceaccount:self-healing:self-healing",
        "resourceAttributes": {"verb": "patch", "resource": "nodes"}}})
    assert sar.status.allowed is True
    assert twin.api.authorizer.denied()[0]["resource"] == "subjectaccessreviews"


def test_protobuf_body_is_refused_with_415(twin):
    with pytest.raises(ApiException) as exc:
        twin.admin.api_client.call_api(
            "/api/v1/namespaces/prod/configmaps", "POST", body="k8s\x00junk",
            header_params={"Content-Type": "application/vnd.kubernetes.protobuf"},
            auth_settings=["BearerToken"], _preload_content=False)
    assert exc.value.status == 415
    assert json.loads(exc.value.body)["reason"] == "UnsupportedMediaType"


def test_dry_run_eviction_and_scale_act_on_nothing(twin):
    twin.admin.apps.create_namespaced_deployment("prod", deployment("web", replicas=2))
    twin.steps(3)
    pod = twin.admin.core.list_namespaced_pod("prod").items[0].metadata.name
    code, _ = _raw(twin, "/api/v1/namespaces/prod/pods/%s/eviction?dryRun=All" % pod, "POST",
                   {"apiVersion": "policy/v1", "kind": "Eviction",
                    "metadata": {"name": pod, "namespace": "prod"}},
                   {"Content-Type": "application/json"})
    assert code == 201
    assert twin.admin.core.read_namespaced_pod(pod, "prod").metadata.deletion_timestamp is None
    scale = twin.admin.apps.patch_namespaced_deployment_scale(
        "web", "prod", {"spec": {"replicas": 7}}, dry_run="All")
    assert scale.spec.replicas == 7
    assert twin.admin.apps.read_namespaced_deployment("web", "prod").spec.replicas == 2
    with pytest.raises(ApiException) as exc:
        _raw(twin, "/api/v1/namespaces/prod/configmaps?dryRun=Yes", "POST",
             {"metadata": {"name": "x"}}, {"Content-Type": "application/json"})
    assert exc.value.status == 400


def test_table_include_object(twin):
    twin.admin.apps.create_namespaced_deployment("prod", deployment("web", replicas=1))
    accept = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
    _c, full = _raw(twin, "/apis/apps/v1/namespaces/prod/deployments?includeObject=Object",
                    headers=accept)
    assert full["rows"][0]["object"]["spec"]["replicas"] == 1
    _c, meta = _raw(twin, "/apis/apps/v1/namespaces/prod/deployments", headers=accept)
    assert meta["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    _c, none = _raw(twin, "/apis/apps/v1/namespaces/prod/deployments?includeObject=None",
                    headers=accept)
    assert "object" not in none["rows"][0]


def test_job_runs_to_completion(twin):
    batch = client.BatchV1Api(twin.admin.api_client)
    job = batch.create_namespaced_job("prod", {"metadata": {"name": "report"}, "spec": {
        "completions": 2, "template": {"spec": {"restartPolicy": "Never", "containers": [{
            "name": "report", "image": "busybox:1.36"}]}}}})
    uid = job.metadata.uid
    assert job.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": uid}
    assert job.spec.backoff_limit == 6 and job.spec.parallelism == 1
    twin.steps(8)
    job = batch.read_namespaced_job_status("report", "prod")
    assert job.status.succeeded == 2
    assert [c.type for c in job.status.conditions] == ["Complete"]
    pods = twin.admin.core.list_namespaced_pod("prod", label_selector="job-name=report").items
    assert sorted(p.status.phase for p in pods) == ["Succeeded", "Succeeded"]
    with pytest.raises(ApiException) as exc:
        batch.create_namespaced_job("prod", {"metadata": {"name": "bad"}, "spec": {
            "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})
    assert exc.value.status == 422
    assert 'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: ' \
           '"OnFailure", "Never"' in json.loads(exc.value.body)["message"]


def test_server_side_apply_creates_then_merges_and_records_the_manager(twin):
    path = "/api/v1/namespaces/prod/configmaps/cfg?fieldManager=sre"
    headers = {"Content-Type": "application/apply-patch+yaml"}
    code, obj = _raw(twin, path, "PATCH", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "cfg"}, "data": {"a": "1"}}, headers)  # JSON is YAML
    assert code == 201 and obj["data"] == {"a": "1"}
    assert obj["metadata"]["managedFields"][0]["manager"] == "sre"
    assert obj["metadata"]["managedFields"][0]["fieldsV1"]["f:data"] == {"f:a": {}}
    code, obj = _raw(twin, path, "PATCH", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "cfg"}, "data": {"b": "2"}}, headers)
    assert code == 200 and obj["data"] == {"a": "1", "b": "2"}
    with pytest.raises(ApiException) as exc:
        _raw(twin, "/api/v1/namespaces/prod/configmaps/cfg", "PATCH", {"data": {}}, headers)
    assert exc.value.status == 400 and b"fieldManager" in exc.value.body


def test_replication_controller_keeps_its_pods(twin):
    twin.admin.core.create_namespaced_replication_controller("prod", {
        "metadata": {"name": "legacy"}, "spec": {"replicas": 2, "template": {
            "metadata": {"labels": {"app": "legacy"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}}})
    twin.steps(2)
    rc = twin.admin.core.read_namespaced_replication_controller("legacy", "prod")
    assert rc.spec.selector == {"app": "legacy"} and rc.status.ready_replicas == 2
    pods = twin.admin.core.list_namespaced_pod("prod", label_selector="app=legacy").items
    assert [p.metadata.owner_references[0].kind for p in pods] == ["ReplicationController"] * 2


def test_partial_object_metadata_and_status_encoding(twin):
    accept = {"Accept": "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"}
    _c, out = _raw(twin, "/api/v1/nodes", headers=accept)
    assert out["kind"] == "PartialObjectMetadataList" and out["apiVersion"] == "meta.k8s.io/v1"
    assert [i["metadata"]["name"] for i in out["items"]] == ["node-a", "node-b"]
    with pytest.raises(ApiException) as exc:
        twin.admin.core.create_node(node("node-a"))
    assert exc.value.body == (  # byte for byte as the API server encodes it
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":'
        b'"nodes \\"node-a\\" already exists","reason":"AlreadyExists","details":'
        b'{"name":"node-a","kind":"nodes"},"code":409}\n').decode()

"""CRUD semantics through the official client: conflicts, patch types, selectors, logs, events,
custom resources (MachineDeployment scale -> nodes, DestinationRule), HPAs."""
import json

import pytest
from api_harness import Twin, deployment, node
from kubernetes.client.rest import ApiException

CAPI = ("cluster.x-k8s.io", "v1beta1")
ISTIO = ("networking.istio.io", "v1beta1")


@pytest.fixture
def twin(tmp_path):
    t = Twin(str(tmp_path), provision_delay_s=60)
    for name in ("node-a", "node-b"):
        t.admin.core.create_node(node(name))
    yield t
    t.stop()


def _status(exc):
    return json.loads(exc.value.body)


def test_stale_update_is_409_conflict_and_create_twice_is_already_exists(twin):
    core = twin.admin.core
    cm = core.create_namespaced_config_map("prod", {"metadata": {"name": "web-db-pool"},
                                                    "data": {"maximumPoolSize": "20"}})
    stale = core.read_namespaced_config_map("web-db-pool", "prod")
    cm.data["maximumPoolSize"] = "30"
    fresh = core.replace_namespaced_config_map("web-db-pool", "prod", cm)
    assert int(fresh.metadata.resource_version) > int(stale.metadata.resource_version)
    stale.data["maximumPoolSize"] = "40"
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_config_map("web-db-pool", "prod", stale)
    assert exc.value.status == 409 and _status(exc)["reason"] == "Conflict"
    with pytest.raises(ApiException) as exc:
        core.patch_namespaced_config_map("web-db-pool", "prod", {"metadata": {
            "resourceVersion": stale.metadata.resource_version}, "data": {"a": "b"}})
    assert exc.value.status == 409
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map("prod", {"metadata": {"name": "web-db-pool"}})
    assert exc.value.status == 409 and _status(exc)["reason"] == "AlreadyExists"
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_config_map("missing", "prod")
    assert exc.value.status == 404 and _status(exc)["details"]["name"] == "missing"
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map("prod", {"metadata": {"name": "Bad_Name"}})
    assert exc.value.status == 422
    assert core.read_namespaced_config_map("web-db-pool", "prod").data == {
        "maximumPoolSize": "30"}


def test_patch_types_strategic_json_and_merge(twin):
    apps = twin.admin.apps
    dep = deployment("web")
    dep["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "s:1"})
    apps.create_namespaced_deployment("prod", dep)
    # dict body -> strategic merge: containers merge by name, sidecar kept
    apps.patch_namespaced_deployment("web", "prod", {"spec": {"template": {"spec": {
        "containers": [{"name": "web", "image": "registry.local/web:v2"}]}}}})
    got = apps.read_namespaced_deployment("web", "prod").spec.template.spec.containers
    assert [(c.name, c.image) for c in got] == [("web", "registry.local/web:v2"),
                                               ("sidecar", "s:1")]
    # list body -> JSON patch
    apps.patch_namespaced_deployment("web", "prod", [
        {"op": "replace", "path": "/spec/replicas", "value": 7},
        {"op": "remove", "path": "/spec/template/spec/containers/1"}])
    got = apps.read_namespaced_deployment("web", "prod")
    assert got.spec.replicas == 7 and len(got.spec.template.spec.containers) == 1
    with pytest.raises(ApiException) as exc:
        apps.patch_namespaced_deployment("web", "prod", [
            {"op": "test", "path": "/spec/replicas", "value": 3}])
    assert exc.value.status == 422
    # null deletes with strategic merge, and taints merge by key on nodes
    twin.admin.core.patch_node("node-a", {"spec": {"taints": [
        {"key": "a", "value": "1", "effect": "NoSchedule"}]}})
    twin.admin.core.patch_node("node-a", {"spec": {"taints": [
        {"key": "b", "value": "2", "effect": "NoSchedule"}]}})
    taints = twin.admin.core.read_node("node-a").spec.taints
    assert sorted(t.key for t in taints) == ["a", "b"]
    twin.admin.core.patch_node("node-a", {"spec": {"taints": None}})
    assert twin.admin.core.read_node("node-a").spec.taints is None
    # custom objects: merge patch replaces lists; strategic merge is refused like a CRD
    custom = twin.admin.custom
    custom.create_namespaced_custom_object(*ISTIO, "prod", "destinationrules", {
        "apiVersion": "networking.istio.io/v1beta1", "kind": "DestinationRule",
        "metadata": {"name": "web"}, "spec": {"host": "web.prod.svc.cluster.local"}})
    custom.patch_namespaced_custom_object(*ISTIO, "prod", "destinationrules", "web", {
        "spec": {"trafficPolicy": {"outlierDetection": {"consecutive5xxErrors": 3,
                                                        "baseEjectionTime": "5s"}}}})
    dr = custom.get_namespaced_custom_object(*ISTIO, "prod", "destinationrules", "web")
    assert dr["spec"]["host"] == "web.prod.svc.cluster.local"
    assert dr["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"] == 3
    with pytest.raises(ApiException) as exc:
        custom.api_client.call_api(
            "/apis/networking.istio.io/v1beta1/namespaces/prod/destinationrules/web", "PATCH",
            header_params={"Content-Type": "application/strategic-merge-patch+json"},
            body={"spec": {}}, auth_settings=["BearerToken"], _return_http_data_only=True)
    assert exc.value.status == 415


def test_status_subresource_is_separate_from_spec(twin):
    core = twin.admin.core
    core.patch_node("node-a", {"status": {"allocatable": {"cpu": "1"}},
                               "spec": {"unschedulable": True}})
    n = core.read_node("node-a")
    assert n.spec.unschedulable is True and n.status.allocatable["cpu"] == "4"
    core.patch_node_status("node-a", {"status": {"conditions": [
        {"type": "MemoryPressure", "status": "True", "reason": "KubeletHasInsufficientMemory"}]},
        "spec": {"unschedulable": False}})
    n = core.read_node("node-a")
    assert n.spec.unschedulable is True
    assert {c.type: c.status for c in n.status.conditions} == {"Ready": "True",
                                                               "MemoryPressure": "True"}


def test_field_and_label_selectors(twin):
    core = twin.admin.core
    for i, (n, app, phase) in enumerate([("node-a", "web", "Running"), ("node-b", "web", "Pending"),
                                         ("node-a", "db", "Running"), ("", "web", "Pending")]):
        p = core.create_namespaced_pod("prod" if i < 3 else "staging", {
            "metadata": {"name": "p%d" % i, "labels": {"app": app, "tier": str(i % 2)}},
            "spec": {"nodeName": n or None, "containers": [{"name": "c", "image": "i"}]}})
        core.patch_namespaced_pod_status(p.metadata.name, p.metadata.namespace,
                                         {"status": {"phase": phase}})

    def names(**kw):
        return sorted(p.metadata.name for p in core.list_pod_for_all_namespaces(**kw).items)

    assert names(field_selector="spec.nodeName=node-a") == ["p0", "p2"]
    assert names(field_selector="spec.nodeName=") == ["p3"]
    assert names(field_selector="status.phase=Running,metadata.namespace=prod") == ["p0", "p2"]
    assert names(field_selector="status.phase!=Running") == ["p1", "p3"]
    assert names(label_selector="app=web,tier!=1") == ["p0"]
    assert names(label_selector="app in (db,cache)") == ["p2"]
    assert names(label_selector="app notin (db),!missing") == ["p0", "p1", "p3"]
    assert names(field_selector="metadata.name=p1") == ["p1"]
    page = core.list_namespaced_pod("prod", limit=2)
    assert len(page.items) == 2 and page.metadata._continue
    rest = core.list_namespaced_pod("prod", limit=2, _continue=page.metadata._continue)
    assert [p.metadata.name for p in rest.items] == ["p2"] and not rest.metadata._continue
    with pytest.raises(ApiException) as exc:
        core.list_pod_for_all_namespaces(field_selector="spec.image=x")
    assert exc.value.status == 400


def test_pod_logs_current_previous_tail_and_limit(twin):
    twin.admin.core.create_namespaced_pod("prod", {
        "metadata": {"name": "web-1"},
        "spec": {"nodeName": "node-a", "containers": [{"name": "web", "image": "i"},
                                                      {"name": "proxy", "image": "p"}]}})
    store = twin.store
    store.append_log("prod", "web-1", "boot\nOOM soon\n", container="web")
    store.rotate_log("prod", "web-1", container="web")
    store.append_log("prod", "web-1", "".join("line %d\n" % i for i in range(10)), "web")
    core = twin.sa.core
    assert core.read_namespaced_pod_log("web-1", "prod", container="web",
                                        previous=True) == "boot\nOOM soon\n"
    assert core.read_namespaced_pod_log("web-1", "prod", container="web",
                                        tail_lines=2) == "line 8\nline 9\n"
    assert core.read_namespaced_pod_log("web-1", "prod", container="web",
                                        limit_bytes=9) == "line 0\nli"
    with pytest.raises(ApiException) as exc:  # two containers: must choose
        core.read_namespaced_pod_log("web-1", "prod")
    assert exc.value.status == 400
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod_log("web-1", "prod", container="proxy", previous=True)
    assert exc.value.status == 400


def test_events_create_and_list(twin):
    core = twin.sa.core
    core.create_namespaced_event("prod", {
        "metadata": {"generateName": "web."},
        "involvedObject": {"kind": "Deployment", "namespace": "prod", "name": "web"},
        "reason": "SelfHealingRollback", "message": "rolled back", "type": "Normal",
        "reportingComponent": "self-healing", "reportingInstance": "self-healing-1"})
    core.create_namespaced_event("prod", {
        "metadata": {"name": "web.other"}, "involvedObject": {"kind": "Pod", "name": "x"},
        "reason": "Other", "message": "m", "type": "Warning"})
    got = core.list_namespaced_event("prod", field_selector="reportingComponent=self-healing")
    assert [e.reason for e in got.items] == ["SelfHealingRollback"]
    assert got.items[0].metadata.name.startswith("web.")
    assert got.items[0].metadata.creation_timestamp.isoformat() == "2026-11-28T03:17:22+00:00"


def test_machinedeployment_scale_adds_ready_nodes_after_delay(twin):
    custom = twin.admin.custom
    custom.create_namespaced_custom_object(*CAPI, "default", "machinedeployments", {
        "apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "MachineDeployment",
        "metadata": {"name": "pool-a"},
        "spec": {"clusterName": "prod", "replicas": 2,
                 "selector": {"matchLabels": {"cluster.x-k8s.io/deployment-name": "pool-a"}},
                 "template": {"spec": {"clusterName": "prod", "bootstrap": {},
                                       "infrastructureRef": {"kind": "TwinMachine",
                                                             "name": "pool-a"}}}}})
    twin.steps(1)
    scale = twin.sa.custom.get_namespaced_custom_object_scale(*CAPI, "default",
                                                              "machinedeployments", "pool-a")
    assert scale["spec"]["replicas"] == 2
    twin.sa.custom.patch_namespaced_custom_object_scale(
        *CAPI, "default", "machinedeployments", "pool-a", {"spec": {"replicas": 4}})
    twin.steps(3)  # 45 s < 60 s delay
    assert len(twin.admin.core.list_node(label_selector="node-pool=pool-a").items) == 2
    md = custom.get_namespaced_custom_object_status(*CAPI, "default", "machinedeployments",
                                                    "pool-a")
    assert md["status"]["phase"] == "ScalingUp" and md["status"]["replicas"] == 4
    twin.steps(2)
    nodes = twin.admin.core.list_node(label_selector="node-pool=pool-a").items
    assert len(nodes) == 4
    new = [n for n in nodes if n.metadata.name not in ("node-a", "node-b")]
    assert all(c.status == "True" for n in new for c in n.status.conditions
               if c.type == "Ready")
    assert new[0].status.allocatable["memory"] == "16Gi"
    md = custom.get_namespaced_custom_object(*CAPI, "default", "machinedeployments", "pool-a")
    assert md["status"]["readyReplicas"] == 4 and md["status"]["phase"] == "Running"


def test_hpa_v2_round_trip(twin):
    twin.admin.apps.create_namespaced_deployment("prod", deployment("web", replicas=2))
    twin.admin.autoscaling.create_namespaced_horizontal_pod_autoscaler("prod", {
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                    "name": "web"},
                 "minReplicas": 2, "maxReplicas": 6,
                 "metrics": [{"type": "Resource", "resource": {
                     "name": "cpu", "target": {"type": "Utilization",
                                               "averageUtilization": 60}}}]}})
    twin.ctl.hpa_metric_fn = lambda hpa: 120.0
    twin.steps(1)
    hpa = twin.admin.autoscaling.read_namespaced_horizontal_pod_autoscaler("web", "prod")
    assert hpa.status.desired_replicas == 4
    assert twin.admin.apps.read_namespaced_deployment("web", "prod").spec.replicas == 4


def test_https_with_the_generated_ca(tmp_path):
    t = Twin(str(tmp_path), tls=True)
    try:
        assert t.api.url.startswith("https://127.0.0.1:")
        t.admin.core.create_node(node("node-a"))
        assert [n.metadata.name for n in t.sa.core.list_node().items] == ["node-a"]
    finally:
        t.stop()


def test_table_rendering_for_kubectl(twin):
    import urllib.request
    twin.admin.core.patch_node("node-b", {"spec": {"unschedulable": True}})
    req = urllib.request.Request(
        twin.api.url + "/api/v1/nodes", headers={
            "Authorization": "Bearer " + twin.api.admin_token,
            "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        table = json.loads(resp.read())
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]][:5] == [
        "Name", "Status", "Roles", "Age", "Version"]
    rows = {r["cells"][0]: r["cells"] for r in table["rows"]}
    assert rows["node-b"][1] == "Ready,SchedulingDisabled" and rows["node-a"][1] == "Ready"
    assert rows["node-a"][3] == "0s"  # ages on the virtual clock

"""Writes are defaulted and validated like the real API server (twin.admission, upstream
schemas from kubernetes-validate for v1.31), through the official client."""
import json

import pytest
from api_harness import Twin, deployment
from kubernetes.client.rest import ApiException


@pytest.fixture
def twin(tmp_path):
    t = Twin(str(tmp_path))
    yield t
    t.stop()


def _status(exc):
    return json.loads(exc.value.body)


def test_replicas_of_the_wrong_type_is_a_decoding_error(twin):
    dep = deployment("web")
    dep["spec"]["replicas"] = "two"
    with pytest.raises(ApiException) as exc:
        twin.admin.api_client.call_api(
            "/apis/apps/v1/namespaces/prod/deployments", "POST", body=dep,
            header_params={"Content-Type": "application/json"}, auth_settings=["BearerToken"],
            _preload_content=False)
    assert exc.value.status == 400
    assert _status(exc)["message"] == (
        'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal '
        "string into Go struct field DeploymentSpec.spec.replicas of type int32")


def test_negative_replicas_is_invalid_with_the_servers_wording(twin):
    dep = deployment("web")
    dep["spec"]["replicas"] = -1
    with pytest.raises(ApiException) as exc:
        twin.admin.apps.create_namespaced_deployment("prod", dep)
    status = _status(exc)
    assert exc.value.status == 422 and status["reason"] == "Invalid"
    assert status["message"] == ('Deployment.apps "web" is invalid: spec.replicas: Invalid '
                                 "value: -1: must be greater than or equal to 0")
    assert status["details"] == {"name": "web", "group": "apps", "kind": "Deployment",
                                 "causes": [{"reason": "FieldValueInvalid",
                                             "message": "Invalid value: -1: must be greater "
                                                        "than or equal to 0",
                                             "field": "spec.replicas"}]}
    assert not twin.admin.apps.list_namespaced_deployment("prod").items


def test_unknown_fields_strict_refused_default_dropped_with_a_warning(twin):
    dep = deployment("web")
    dep["spec"]["replicaz"] = 3
    with pytest.raises(ApiException) as exc:
        twin.admin.apps.create_namespaced_deployment("prod", dep, field_validation="Strict")
    assert exc.value.status == 400
    assert 'strict decoding error: unknown field "spec.replicaz"' in _status(exc)["message"]
    resp = twin.admin.api_client.call_api(
        "/apis/apps/v1/namespaces/prod/deployments", "POST", body=dep,
        header_params={"Content-Type": "application/json"}, auth_settings=["BearerToken"],
            _preload_content=False)
    assert resp[1] == 201
    assert resp[2]["Warning"] == '299 - "unknown field \\"spec.replicaz\\""'
    stored = twin.store.get("deployments", "prod", "web")
    assert "replicaz" not in stored["spec"]


def test_selector_is_immutable(twin):
    twin.admin.apps.create_namespaced_deployment("prod", deployment("web"))
    with pytest.raises(ApiException) as exc:
        twin.admin.apps.patch_namespaced_deployment("web", "prod", {"spec": {
            "selector": {"matchLabels": {"app": "web", "tier": "x"}},
            "template": {"metadata": {"labels": {"tier": "x"}}}}})
    assert exc.value.status == 422
    assert _status(exc)["message"].startswith('Deployment.apps "web" is invalid: spec.selector: '
                                              "Invalid value: v1.LabelSelector{")
    assert _status(exc)["message"].endswith(": field is immutable")


def test_selector_must_match_template_and_containers_need_an_image(twin):
    dep = deployment("web")
    dep["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    del dep["spec"]["template"]["spec"]["containers"][0]["image"]
    with pytest.raises(ApiException) as exc:
        twin.admin.apps.create_namespaced_deployment("prod", dep)
    fields = [c["field"] for c in _status(exc)["details"]["causes"]]
    assert fields == ["spec.template.metadata.labels", "spec.template.spec.containers[0].image"]


def test_event_needs_involved_object(twin):
    with pytest.raises(ApiException) as exc:
        twin.admin.core.create_namespaced_event("prod", {"metadata": {"name": "e1"},
                                                         "reason": "X", "message": "m"})
    assert exc.value.status == 422
    assert _status(exc)["message"] == 'Event "e1" is invalid: involvedObject: Required value'


def test_create_response_is_defaulted(twin):
    created = twin.admin.apps.create_namespaced_deployment("prod", {
        "metadata": {"name": "web"}, "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{
                "name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}]}}}})
    spec = created.spec
    assert spec.replicas == 1 and spec.revision_history_limit == 10
    assert spec.progress_deadline_seconds == 600
    assert spec.strategy.type == "RollingUpdate"
    assert spec.strategy.rolling_update.max_surge == "25%"
    pod_spec = spec.template.spec
    assert pod_spec.restart_policy == "Always" and pod_spec.dns_policy == "ClusterFirst"
    assert pod_spec.termination_grace_period_seconds == 30
    container = pod_spec.containers[0]
    assert container.image_pull_policy == "Always"  # untagged image = :latest
    assert container.termination_message_path == "/dev/termination-log"
    assert container.ports[0].protocol == "TCP"
    assert created.status is not None


def test_custom_resources_are_validated_against_their_schema(twin):
    with pytest.raises(ApiException) as exc:
        twin.admin.custom.create_namespaced_custom_object(
            "networking.istio.io", "v1beta1", "prod", "destinationrules", {
                "apiVersion": "networking.istio.io/v1beta1", "kind": "DestinationRule",
                "metadata": {"name": "orders"},
                "spec": {"trafficPolicy": {"outlierDetection": {"consecutive5xxErrors": 5}}}})
    assert exc.value.status == 422
    assert _status(exc)["message"] == ('DestinationRule.networking.istio.io "orders" is '
                                       "invalid: spec.host: Required value")
    with pytest.raises(ApiException) as exc:
        twin.admin.custom.create_namespaced_custom_object(
            "cluster.x-k8s.io", "v1beta1", "default", "machinedeployments", {
                "apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "MachineDeployment",
                "metadata": {"name": "pool"}, "spec": {
                    "clusterName": "c", "replicas": -2,
                    "selector": {"matchLabels": {"a": "b"}},
                    "template": {"spec": {"clusterName": "c"}}}})
    assert exc.value.status == 422 and "spec.replicas: Invalid value: -2" in exc.value.body


def test_dry_run_create_stores_nothing(twin):
    created = twin.admin.apps.create_namespaced_deployment("prod", deployment("web"),
                                                           dry_run="All")
    assert created.spec.revision_history_limit == 10
    assert not twin.admin.apps.list_namespaced_deployment("prod").items

"""deploy/stackstorm-ha-values.yaml and deploy/st2packs/Dockerfile, checked structurally
(neither helm nor a docker engine is available here): the overlay only uses keys the
stackstorm-ha chart knows, wires what the pack needs, and hardens every pod it sets."""
import os
import re
import shutil
import subprocess

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(REPO, "deploy")

# The stackstorm-ha chart's values this overlay may set (read from the chart 1.1.0 values.yaml;
# e.g. there is no priorityClassName: deploy/post-render adds it).
COMPONENT_KEYS = {"replicas", "resources", "image", "annotations", "nodeSelector", "tolerations",
                  "affinity", "hostAliases", "env", "envFromSecrets", "serviceAccount",
                  "podSecurityContext", "securityContext", "postStartScript", "extra_volumes",
                  "terminationGracePeriodSeconds", "livenessProbe", "readinessProbe",
                  "deployments", "enabled"}
CHART_KEYS = {
    "st2": {"packs": {"images", "configs", "sensors", "volumes"}, "config": None, "rbac": None},
    "redis": {"enabled"}, "serviceAccount": {"create", "serviceAccountName", "annotations"},
    "st2actionrunner": COMPONENT_KEYS, "st2sensorcontainer": COMPONENT_KEYS,
    "st2rulesengine": COMPONENT_KEYS, "st2timersengine": COMPONENT_KEYS,
    "st2workflowengine": COMPONENT_KEYS, "st2chatops": COMPONENT_KEYS,
}
SENSOR_KEYS = (COMPONENT_KEYS | {"name", "ref"}) - {"postStartScript", "deployments"}


def overlay():
    with open(os.path.join(DEPLOY, "stackstorm-ha-values.yaml")) as handle:
        return yaml.safe_load(handle)


def _check_keys(values, known, path):
    assert isinstance(values, dict), path
    for key, value in values.items():
        assert key in known, "%s.%s is not a stackstorm-ha value" % (path, key)
        sub = known[key] if isinstance(known, dict) else None
        if isinstance(sub, (dict, set)) and isinstance(value, dict):
            _check_keys(value, sub if isinstance(sub, dict) else {k: None for k in sub},
                        "%s.%s" % (path, key))


def test_overlay_uses_only_chart_keys():
    _check_keys(overlay(), CHART_KEYS, "values")
    for sensor in overlay()["st2"]["packs"]["sensors"]:
        assert set(sensor) <= SENSOR_KEYS, sorted(set(sensor) - SENSOR_KEYS)


def test_pack_image_config_and_single_sensor():
    packs = overlay()["st2"]["packs"]
    (image,) = packs["images"]
    assert image["name"] == "st2packs-self-healing" and image["tag"]
    from lib.config import load_settings
    config = yaml.safe_load(packs["configs"]["self_healing.yaml"])
    settings = load_settings(config)  # the shipped pack config is valid
    assert settings.mode == "dry_run" and settings.kubernetes.in_cluster is True
    with open(os.path.join(REPO, "sensors", "detector_sensor.yaml")) as handle:
        sensor = yaml.safe_load(handle)
    assert [s["ref"] for s in packs["sensors"]] == ["self_healing." + sensor["class_name"]]


def test_coordination_and_the_rbac_service_account():
    values = overlay()
    assert values["redis"]["enabled"] is True
    with open(os.path.join(DEPLOY, "rbac.yaml")) as handle:
        docs = [d for d in yaml.safe_load_all(handle) if d]
    (account,) = [d for d in docs if d["kind"] == "ServiceAccount"]
    (binding,) = [d for d in docs if d["kind"] == "ClusterRoleBinding"]
    assert values["serviceAccount"] == {"create": False,
                                        "serviceAccountName": account["metadata"]["name"]}
    assert binding["subjects"][0]["name"] == account["metadata"]["name"]
    assert values["st2actionrunner"]["serviceAccount"] == {"attach": True}
    assert values["st2"]["packs"]["sensors"][0]["serviceAccount"] == {"attach": True}


def test_every_pod_is_hardened():
    values = overlay()
    pods = [values[name] for name in ("st2actionrunner", "st2sensorcontainer", "st2rulesengine",
                                      "st2timersengine", "st2workflowengine")]
    pods += values["st2"]["packs"]["sensors"]
    for pod in pods:
        assert pod["podSecurityContext"]["runAsNonRoot"] is True
        assert pod["podSecurityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        container = pod["securityContext"]
        assert container["allowPrivilegeEscalation"] is False
        assert container["capabilities"] == {"drop": ["ALL"]}
        assert isinstance(container["readOnlyRootFilesystem"], bool)
    assert values["st2sensorcontainer"]["securityContext"]["readOnlyRootFilesystem"] is True
    runner = values["st2actionrunner"]
    assert runner["resources"]["limits"] == {"memory": "2Gi", "cpu": "1000m"}


def test_dockerfile_follows_the_st2packs_convention():
    with open(os.path.join(DEPLOY, "st2packs", "Dockerfile")) as handle:
        text = handle.read()
    # builder + runtime: the runtime image's ONBUILD copies /opt/stackstorm/{packs,virtualenvs}
    stages = re.findall(r"^FROM\s+(\S+.*)$", text, re.MULTILINE)
    assert stages == ["stackstorm/st2packs:builder AS builder", "stackstorm/st2packs:runtime"]
    assert re.search(r"^RUN /opt/stackstorm/st2/bin/st2-pack-install file:///tmp/self_healing$",
                     text, re.MULTILINE)
    copied = re.findall(r"^COPY (\S+)/ /tmp/self_healing/", text, re.MULTILINE)
    for folder in ("actions", "aliases", "policies", "rules", "sensors", "playbooks"):
        assert folder in copied and os.path.isdir(os.path.join(REPO, folder)), folder
    assert not set(copied) & {"twin", "engine", "bench", "tests", "scenarios"}
    files = re.search(r"^COPY ((?:\S+ )+)/tmp/self_healing/$", text, re.MULTILINE).group(1)
    for name in files.split():
        assert os.path.isfile(os.path.join(REPO, name)), name
    assert "pack.yaml" in files.split() and "requirements.txt" in files.split()
    with open(os.path.join(REPO, "pack.yaml")) as handle:
        assert yaml.safe_load(handle)["ref"] == "self_healing"


def _deployment(name, component):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/name": component}},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (kustomize) is not installed")
def test_post_renderer_sets_the_priority_class():
    sensor = "st2sensorcontainer-" + overlay()["st2"]["packs"]["sensors"][0]["name"]
    rendered = [_deployment("st2-st2actionrunner", "st2actionrunner"),
                _deployment("st2-" + sensor, sensor), _deployment("st2-st2web", "st2web")]
    done = subprocess.run([os.path.join(DEPLOY, "post-render", "post-render.sh")],
                          input=yaml.safe_dump_all(rendered).encode(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=120)
    assert done.returncode == 0, done.stdout.decode()
    out = {d["metadata"]["name"]: d["spec"]["template"]["spec"]
           for d in yaml.safe_load_all(done.stdout)}
    assert out["st2-st2actionrunner"]["priorityClassName"] == "system-cluster-critical"
    assert out["st2-" + sensor]["priorityClassName"] == "system-cluster-critical"
    assert "priorityClassName" not in out["st2-st2web"]

"""deploy/stackstorm-ha-values.yaml and deploy/st2packs/Dockerfile, checked structurally
(neither helm nor a docker engine is available here): the overlay only uses keys the
stackstorm-ha chart knows, wires what the pack needs, and hardens every pod it sets."""
import os
import re

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(REPO, "deploy")

# The stackstorm-ha chart's values this overlay may set (chart 1.x values.yaml).
COMPONENT_KEYS = {"replicas", "resources", "priorityClassName", "serviceAccount",
                  "podSecurityContext", "securityContext", "nodeSelector", "tolerations",
                  "affinity", "annotations", "env", "enabled"}
CHART_KEYS = {
    "st2": {"packs": {"images", "configs", "sensors", "volumes"}, "config": None, "rbac": None},
    "redis": {"enabled"}, "serviceAccount": {"create", "serviceAccountName", "annotations"},
    "st2actionrunner": COMPONENT_KEYS, "st2sensorcontainer": COMPONENT_KEYS,
    "st2rulesengine": COMPONENT_KEYS, "st2timersengine": COMPONENT_KEYS,
    "st2workflowengine": COMPONENT_KEYS, "st2chatops": COMPONENT_KEYS,
}
SENSOR_KEYS = {"name", "ref", "serviceAccount", "resources", "podSecurityContext",
               "securityContext", "nodeSelector", "tolerations", "affinity", "annotations"}


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
    assert runner["priorityClassName"] == "system-cluster-critical"
    assert runner["resources"]["limits"] == {"memory": "2Gi", "cpu": "1000m"}


def test_dockerfile_follows_the_st2packs_convention():
    with open(os.path.join(DEPLOY, "st2packs", "Dockerfile")) as handle:
        text = handle.read()
    stages = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)
    assert stages == ["stackstorm/st2packs:builder-${ST2_VERSION}",
                      "stackstorm/st2packs:runtime-${ST2_VERSION}"]
    assert "st2-pack-install /opt/stackstorm/packs/self_healing" in text
    for target in ("/opt/stackstorm/packs/self_healing",
                   "/opt/stackstorm/virtualenvs/self_healing"):
        assert re.search(r"^COPY --from=builder .*%s %s$" % (target, target), text, re.MULTILINE)
    copied = re.findall(r"^COPY (\S+)/ /opt/stackstorm/packs/self_healing/", text, re.MULTILINE)
    for folder in ("actions", "aliases", "policies", "rules", "sensors"):
        assert folder in copied and os.path.isdir(os.path.join(REPO, folder))
    assert not set(copied) & {"twin", "engine", "bench", "tests"}
    assert re.search(r"^USER 1000$", text, re.MULTILINE)

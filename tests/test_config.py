"""lib.config: defaults come from config.schema.yaml, bad values name their key."""
import os

import pytest
import yaml
from lib import config
from lib.config import ConfigError, load_settings

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _example():
    with open(os.path.join(REPO_ROOT, "self_healing.yaml.example")) as handle:
        return yaml.safe_load(handle)


def test_fresh_install_observes_only_and_seed_defaults():
    settings = load_settings(None, environ={})
    assert settings.mode == "observe"
    assert settings.max_autonomous_risk == "medium"
    assert settings.escalation_channel == "#incidents"
    assert "kube-system" in settings.protected_namespaces
    assert settings.healer_namespace in settings.protected_namespaces
    assert settings.budgets["max_cordoned_nodes"] == 1
    assert settings.detector("memory_pressure")["threshold_pct"] == 90
    assert settings.detector("memory_leak").horizon_s == 3600
    assert settings.detector("crash_loop")["restarts"] == 5
    assert config.parse_duration(settings.detector("crash_loop")["window"]) == 600
    assert settings.detector("node_not_ready")["grace_s"] == 300
    assert settings.detector_enabled("certificate_expiry")


def test_every_default_comes_from_the_schema_file():
    with open(config.SCHEMA_PATH) as handle:
        schema = yaml.safe_load(handle)
    settings = load_settings({}, environ={}).to_dict()
    for key, prop in schema.items():
        if "default" in prop:
            expected = prop["default"]
            if key == "protected_namespaces":
                assert set(expected) <= set(settings[key])
                continue
            assert settings[key] == expected, key
    for name, det in schema["detectors"]["properties"].items():
        for field, prop in det["properties"].items():
            assert settings["detectors"][name][field] == prop["default"], (name, field)
    for field, prop in schema["budgets"]["properties"].items():
        assert settings["budgets"][field] == prop["default"], field
    assert set(settings["detectors"]) == set(config.DETECTORS)


def test_schema_change_changes_the_defaults():
    schema = config.load_schema()
    schema["budgets"]["properties"]["max_cordoned_nodes"]["default"] = 4
    assert load_settings({}, environ={}, schema=schema).budgets["max_cordoned_nodes"] == 4


def test_example_config_loads_and_overrides():
    settings = load_settings(_example(), environ={})
    assert settings.detector("memory_leak")["namespaces"] == ("production",)
    assert settings.max_risk_for("pod_crash_loop") == "medium"
    assert settings.max_risk_for("scale_node_pool") == "low"
    assert settings.max_risk_for("unknown_playbook") == "medium"
    assert settings.dependents_of("payments") == ["checkout"]
    assert settings.upstreams_of("checkout") == ["payments", "inventory"]


def test_partial_nested_object_keeps_other_defaults():
    settings = load_settings({"detectors": {"crash_loop": {"restarts": 9}}}, environ={})
    assert settings.detector("crash_loop")["restarts"] == 9
    assert settings.detector("crash_loop")["window"] == "10m"
    assert settings.detector("memory_pressure")["threshold_pct"] == 90


def test_playbook_override_accepts_dash_or_underscore_names():
    settings = load_settings({"playbook_risk_overrides": {"memory_pressure_node": "low"}},
                             environ={})
    assert settings.max_risk_for("memory-pressure-node") == "low"
    assert settings.max_risk_for("memory_pressure_node") == "low"


@pytest.mark.parametrize("bad,message", [
    ({"budgets": {"max_cordoned_nodes": -1}},
     "budgets.max_cordoned_nodes: must be an integer >= 0"),
    ({"budgets": {"max_cordoned_nodes": "2"}}, "budgets.max_cordoned_nodes: must be an integer"),
    ({"budgets": {"max_cordoned_nodes": True}}, "budgets.max_cordoned_nodes: must be an integer"),
    ({"mode": "yolo"}, "mode: must be one of observe, dry_run, autonomous"),
    ({"max_autonomous_risk": "extreme"}, "max_autonomous_risk: must be one of"),
    ({"playbook_risk_overrides": {"x": "huge"}}, "playbook_risk_overrides.x: must be one of"),
    ({"detectors": {"crash_loop": {"window": "10 minutes"}}}, "detectors.crash_loop.window"),
    ({"detectors": {"crash_loop": {"restartz": 1}}}, "detectors.crash_loop.restartz: unknown key"),
    ({"detectors": {"cpu_throttling": {"ratio": 1.5}}}, "detectors.cpu_throttling.ratio"),
    ({"budget": {}}, "budget: unknown key"),
    ({"prometheus": {"url": "prometheus:9090"}}, "prometheus.url"),
    ({"prometheus": {"verify_tls": "yes"}}, "prometheus.verify_tls: must be a boolean"),
    ({"protected_namespaces": "kube-system"}, "protected_namespaces: must be a list"),
    ({"protected_namespaces": [1]}, r"protected_namespaces\[0\]: must be a string"),
    ({"dependencies": {"a": "b"}}, "dependencies.a: must be a list"),
    ({"change_freeze": [{"start": "2026-01-01T00:00:00Z"}]},
     r"change_freeze\[0\].end: is required"),
    ({"change_freeze": [{"start": "soon", "end": "2026-01-01T00:00:00Z"}]},
     r"change_freeze\[0\].start: not an ISO 8601 time"),
    ({"change_freeze": [{"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}]},
     r"change_freeze\[0\].end: must be after start"),
    ({"poll_interval_s": 1}, "poll_interval_s: must be an integer >= 5"),
    ({"fix_task_webhook": "not a url"}, "fix_task_webhook"),
    ("mode: observe", "config: must be an object"),
])
def test_bad_values_name_the_key(bad, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(bad, environ={})


def test_settings_are_read_only():
    settings = load_settings({}, environ={})
    with pytest.raises(AttributeError):
        settings.mode = "autonomous"
    with pytest.raises(TypeError):
        settings.budgets["max_cordoned_nodes"] = 5  # type: ignore[index]
    with pytest.raises(ConfigError, match="detectors.nope: unknown detector"):
        settings.detector("nope")


def test_yaml_timestamps_in_change_freeze_are_accepted():
    raw = yaml.safe_load("change_freeze: [{start: 2026-12-24T00:00:00Z, end: 2026-12-25}]")
    (window,) = load_settings(raw, environ={}).change_freeze
    assert window["start"].startswith("2026-12-24T00:00:00")
    assert window["reason"] == ""


def test_environment_fills_only_unset_keys():
    env = {"PROMETHEUS_URL": "http://prom:9090", "MAX_AUTONOMOUS_RISK": "low",
           "ESCALATION_CHANNEL": "#ops", "NATS_URL": "nats://n:4222"}
    settings = load_settings({}, environ=env)
    assert settings.prometheus.url == "http://prom:9090"
    assert settings.max_autonomous_risk == "low"
    assert settings.escalation_channel == "#ops"
    assert settings.nats["url"] == "nats://n:4222"
    explicit = load_settings({"prometheus": {"url": "http://cfg:9090"}}, environ=env)
    assert explicit.prometheus.url == "http://cfg:9090"
    with pytest.raises(ConfigError, match="max_autonomous_risk"):
        load_settings({}, environ={"MAX_AUTONOMOUS_RISK": "bogus"})


def test_healer_namespace_is_always_protected():
    settings = load_settings({"healer_namespace": "ops", "protected_namespaces": []}, environ={})
    assert settings.is_protected_namespace("ops")
    assert not settings.is_protected_namespace("kube-system")


def test_risk_rank_orders_levels():
    assert [config.risk_rank(r) for r in ("none", "low", "medium", "high")] == [0, 1, 2, 3]
    with pytest.raises(ValueError):
        config.risk_rank("critical")


def test_pack_config_dict_like_stackstorm_passes():
    from st2common.runners.utils import PackConfigDict
    settings = load_settings(PackConfigDict("self_healing", {"mode": "dry_run"}), environ={})
    assert settings.mode == "dry_run"


def test_settings_survive_copy_and_pickle():
    import copy
    import pickle
    settings = load_settings({"mode": "dry_run"}, environ={})
    for clone in (copy.deepcopy(settings), pickle.loads(pickle.dumps(settings))):
        assert clone.mode == "dry_run"
        assert clone.detector("crash_loop")["restarts"] == 5
        assert clone == settings

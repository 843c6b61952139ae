"""Rule matching with StackStorm's operators and Jinja parameter rendering."""
import pytest

from engine import rules
from engine.datastore import Datastore
from engine.pack import Pack
from lib import catalogue

SIGNAL = {
    "signal_id": "memory_pressure.node._.n1.1795835842",
    "detector": "memory_pressure",
    "target": {"kind": "Node", "namespace": "", "name": "n1", "node": "n1"},
    "service": "analytics-worker",
    "severity": "high",
    "first_detected": "2026-11-28T03:17:00Z",
    "detected_at": "2026-11-28T03:17:22Z",
    "summary": "memory pressure on node n1: 91%",
    "evidence": {"query": "q", "values": {"pct": 91.0}},
    "metadata": {"utilization_pct": 91.0, "tags": ["a", "b"]},
    "items": [{"name": "x", "n": 1}, {"name": "y", "n": 5}],
}
NOW = 1795835842.0 + 100  # 2026-11-28T03:19:02Z


def rule(criteria, enabled=True, trigger="self_healing.memory_pressure", params=None):
    return rules.Rule({"name": "r", "pack": "self_healing", "enabled": enabled,
                       "trigger": {"type": trigger}, "criteria": criteria,
                       "action": {"ref": "self_healing.x", "parameters": params or {}}})


@pytest.fixture
def matcher():
    store = Datastore(lambda: NOW)
    store.set("self_healing.expected_kind", "Node")
    return rules.RuleMatcher(lambda: NOW, store)


@pytest.mark.parametrize("op,key,pattern,expected", [
    ("equals", "trigger.target.kind", "Node", True),
    ("equals", "trigger.target.kind", "Pod", False),
    ("nequals", "trigger.target.kind", "Pod", True),
    ("iequals", "trigger.severity", "HIGH", True),
    ("regex", "trigger.severity", "^(medium|high|critical)$", True),
    ("regex", "trigger.severity", "^(low)$", False),
    ("regex", "trigger.summary", "node n1", True),
    ("matchregex", "trigger.summary", "node n1", False),
    ("matchregex", "trigger.summary", "memory", True),
    ("iregex", "trigger.summary", "MEMORY PRESSURE", True),
    ("contains", "trigger.summary", "91%", True),
    ("contains", "trigger.metadata.tags", "b", True),
    ("ncontains", "trigger.metadata.tags", "c", True),
    ("icontains", "trigger.summary", "NODE", True),
    ("startswith", "trigger.signal_id", "memory_pressure.", True),
    ("endswith", "trigger.signal_id", ".1795835842", True),
    ("lessthan", "trigger.metadata.utilization_pct", 95, True),
    ("greaterthan", "trigger.metadata.utilization_pct", 95, False),
    ("gt", "trigger.metadata.utilization_pct", 90, True),
    ("exists", "trigger.service", None, True),
    ("exists", "trigger.nothing", None, False),
    ("nexists", "trigger.nothing", None, True),
    ("inside", "trigger.severity", ["high", "critical"], True),
    ("inside", "trigger.severity", ["low"], False),
    ("ninside", "trigger.severity", ["low"], True),
    ("matchwildcard", "trigger.target.name", "n*", True),
    ("timediff_lt", "trigger.detected_at", 120, True),   # 100 s old
    ("timediff_gt", "trigger.detected_at", 120, False),
    ("timediff_gt", "trigger.first_detected", 120, True),  # 122 s old
    ("equals", "trigger.target.kind", "{{ st2kv.system.self_healing.expected_kind }}", True),
])
def test_operator(matcher, op, key, pattern, expected):
    assert matcher.matches(rule({key: {"type": op, "pattern": pattern}}),
                           "self_healing.memory_pressure", SIGNAL) is expected


def test_search_any_and_all(matcher):
    any_rule = rule({"trigger.items": {"type": "search", "condition": "any", "pattern": {
        "item.name": {"type": "equals", "pattern": "y"},
        "item.n": {"type": "greaterthan", "pattern": 3}}}})
    all_rule = rule({"trigger.items": {"type": "search", "condition": "all", "pattern": {
        "item.n": {"type": "greaterthan", "pattern": 3}}}})
    assert matcher.matches(any_rule, "self_healing.memory_pressure", SIGNAL)
    assert not matcher.matches(all_rule, "self_healing.memory_pressure", SIGNAL)


def test_disabled_rules_and_other_triggers_never_match(matcher):
    assert not matcher.matches(rule({}, enabled=False), "self_healing.memory_pressure", SIGNAL)
    assert not matcher.matches(rules.Rule({"name": "d", "trigger": {"type": "t"},
                                           "action": {"ref": "a"}}), "t", {})
    assert not matcher.matches(rule({}), "self_healing.crash_loop", SIGNAL)


def test_unknown_operator_is_an_error_not_a_match(matcher):
    errors = []
    found = rules.matching([rule({"trigger.severity": {"type": "bogus", "pattern": 1}})],
                           matcher, "self_healing.memory_pressure", SIGNAL, errors)
    assert found == [] and "bogus" in errors[0]


def test_bracket_paths():
    payload = {"headers": {"X-A": "1"}, "list": [{"v": 2}]}
    assert rules.lookup(payload, "trigger.headers['X-A']") == "1"
    assert rules.lookup(payload, "trigger.list[0].v") == 2
    assert rules.lookup(payload, "trigger.headers.missing") is None


def test_parameter_rendering_and_casting(matcher):
    from engine import params
    r = rule({}, params={
        "signal": "{{ trigger }}",
        "target_key": "{{ (trigger.target.kind ~ '.' ~ (trigger.target.namespace or '_') ~ '.'"
                      " ~ trigger.target.name) | lower }}",
        "pct": "{{ trigger.metadata.utilization_pct }}",
        "tags": "{{ trigger.metadata.tags | to_json_string }}",
        "kind": "{{ st2kv.system.self_healing.expected_kind }}",
        "literal": 5})
    rendered = matcher.render_parameters(r, SIGNAL)
    assert rendered["target_key"] == "node._.n1"
    assert rendered["kind"] == "Node"
    assert rendered["literal"] == 5
    schema = {"signal": {"type": "object"}, "target_key": {"type": "string"},
              "pct": {"type": "number"}, "tags": {"type": "array"}, "kind": {"type": "string"},
              "literal": {"type": "integer"}}
    prepared = params.prepare(schema, rendered, "orquesta")
    assert prepared["signal"] == SIGNAL
    assert prepared["pct"] == 91.0 and prepared["tags"] == ["a", "b"]


def test_undefined_variable_fails_rendering(matcher):
    with pytest.raises(rules.RuleError):
        matcher.render_parameters(rule({}, params={"x": "{{ trigger.nope.deeper }}"}), SIGNAL)


def test_pack_rules_load_and_are_enabled():
    loaded = rules.load_rules(Pack().resources("rules"))
    assert loaded, "the pack ships rules"
    assert all(r.enabled for r in loaded), [r.ref for r in loaded if not r.enabled]


def _sample(trigger_type):
    detector = trigger_type.split(".", 1)[1]
    if trigger_type == "core.st2.generic.inquiry":
        return {"id": "ex-00007", "route": "self_healing", "ttl": 30, "users": [], "roles": [],
                "schema": {}}
    if trigger_type == "core.st2.webhook":  # what st2api dispatches for POST /webhooks/<url>
        return {"headers": {"Content-Type": "application/json"},
                "body": {"version": "4", "status": "firing", "alerts": []}}
    if detector == "sensor_degraded":
        return {"source": "prometheus", "detector": "memory_pressure", "error": "down",
                "since": "2026-11-28T03:17:22Z"}
    if detector == "signal_cleared":
        return {"detector": "memory_pressure", "target": SIGNAL["target"],
                "signal_id": SIGNAL["signal_id"], "cleared_at": "2026-11-28T03:20:00Z"}
    kinds = {d.name: d.kind for d in catalogue.DETECTORS}
    payload = dict(SIGNAL, detector=detector, severity="critical")
    payload["target"] = {"kind": kinds[detector], "namespace": "production",
                         "name": "x-1", "node": "n1"}
    payload["target_key"] = "%s.production.x-1" % payload["target"]["kind"].lower()
    return payload


def test_every_pack_rule_matches_a_sample_and_renders_its_parameters(matcher):
    loaded = [r for r in rules.load_rules(Pack().resources("rules"))
              if r.trigger_type != "core.st2.IntervalTimer"]
    for rule_ in loaded:
        payload = _sample(rule_.trigger_type)
        # a webhook rule matches only posts to its own url (the trigger's parameters)
        assert matcher.matches(rule_, rule_.trigger_type, payload,
                               rule_.trigger_parameters or None), rule_.ref
        rendered = matcher.render_parameters(rule_, payload)
        assert all("{{" not in str(value) for value in rendered.values()), rule_.ref

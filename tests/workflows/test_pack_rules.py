"""The pack's rules: every detector's trigger starts exactly its playbook with the signal and
the target key the concurrency policy needs; low severity does not; the timer rules are wired;
a pending Inquiry is not announced twice (matched and rendered with the local engine's
StackStorm-compatible matcher)."""
import pytest

from engine import params as param_utils
from engine.actions import ActionRunner
from engine.datastore import Datastore
from engine.pack import Pack
from engine.rules import RuleMatcher, load_rules, matching
from lib.catalogue import target_key

PLAYBOOKS = {
    "memory_pressure": ("Node", "memory_pressure_node"),
    "memory_leak": ("Pod", "memory_leak"),
    "crash_loop": ("Pod", "pod_crash_loop"),
    "connection_pool": ("Service", "connection_pool_exhaustion"),
    "disk_pressure": ("Node", "disk_pressure"),
    "certificate_expiry": ("Certificate", "certificate_expiry"),
    "cpu_throttling": ("Pod", "cpu_throttling"),
    "latency_anomaly": ("Service", "latency_anomaly"),
    "error_rate": ("Service", "error_rate"),
    "node_not_ready": ("Node", "node_not_ready"),
}


@pytest.fixture(scope="module")
def rules():
    return load_rules(Pack().resources("rules"))


@pytest.fixture
def matcher():
    return RuleMatcher(lambda: 1795835842.0, Datastore(lambda: 1795835842.0))


def payload(detector, kind, severity="high"):
    namespace = "" if kind == "Node" else "Production"
    return {"signal_id": "%s.x" % detector, "detector": detector,
            "target": {"kind": kind, "namespace": namespace, "name": "Web-1", "node": ""},
            "target_key": target_key(kind, namespace, "Web-1"),  # as the sensor sends it
            "service": "web", "severity": severity, "first_detected": "2026-11-28T03:17:22Z",
            "detected_at": "2026-11-28T03:17:22Z", "summary": "s",
            "evidence": {"query": "q", "values": {}}, "metadata": {}}


def test_rules_are_enabled_explicitly():
    for doc in Pack().resources("rules"):
        assert doc.get("enabled") is True, doc["_path"]


@pytest.mark.parametrize("detector", sorted(PLAYBOOKS))
def test_each_signal_starts_its_playbook(rules, matcher, detector):
    kind, playbook = PLAYBOOKS[detector]
    sig = payload(detector, kind)
    hits = matching(rules, matcher, "self_healing." + detector, sig)
    assert [r.action_ref for r in hits] == ["self_healing." + playbook]
    meta = Pack().action(hits[0].action_ref)
    rendered = matcher.render_parameters(hits[0], sig)
    runner = ActionRunner(Pack())
    params = param_utils.prepare(meta.parameters, rendered, meta.runner_type,
                                 runner.render_default)
    assert params["signal"] == sig and params["dry_run"] is False
    assert params["channel"] == "#incidents" and params["inquiry_ttl_minutes"] == 30
    namespace = "_" if kind == "Node" else "production"
    assert params["target_key"] == "%s.%s.web-1" % (kind.lower(), namespace)


@pytest.mark.parametrize("detector", sorted(set(PLAYBOOKS) - {"certificate_expiry"}))
def test_low_severity_starts_nothing(rules, matcher, detector):
    sig = payload(detector, PLAYBOOKS[detector][0], severity="low")
    assert matching(rules, matcher, "self_healing." + detector, sig) == []


def test_wrong_target_kind_starts_nothing(rules, matcher):
    sig = payload("memory_pressure", "Pod")
    assert matching(rules, matcher, "self_healing.memory_pressure", sig) == []


def test_a_pending_inquiry_is_announced_once_by_its_playbook(rules, matcher):
    """One message per approval: guarded_step posts it (with the plan and the commands); no
    rule adds a second one when StackStorm dispatches core.st2.generic.inquiry."""
    assert matching(rules, matcher, "core.st2.generic.inquiry",
                    {"id": "abc123", "route": "self_healing"}) == []


@pytest.mark.parametrize("action", ["page_waiting_approvals", "export_metrics"])
def test_paging_and_metrics_run_every_minute(rules, action):
    timers = [r for r in rules if r.trigger_type == "core.st2.IntervalTimer"
              and r.action_ref == "self_healing." + action]
    assert [r.trigger_parameters for r in timers] == [{"unit": "minutes", "delta": 1}]


def test_expired_changes_are_reverted_every_minute(rules):
    timers = [r for r in rules if r.trigger_type == "core.st2.IntervalTimer"
              and r.action_ref == "self_healing.revert_expired_changes"]
    assert [r.trigger_parameters for r in timers] == [{"unit": "minutes", "delta": 1}]


def test_policies_serialise_each_playbook_per_target():
    policies = {p["resource_ref"]: p for p in Pack().resources("policies")}
    for _, playbook in PLAYBOOKS.values():
        policy = policies["self_healing." + playbook]
        assert policy["policy_type"] == "action.concurrency.attr"
        assert policy["parameters"] == {"threshold": 1, "action": "delay",
                                        "attributes": ["target_key"]}
    assert "self_healing.cascade_protection" in policies


def test_certificate_expiry_is_reported_at_any_severity(rules, matcher):
    sig = payload("certificate_expiry", "Certificate", severity="low")
    hits = matching(rules, matcher, "self_healing.certificate_expiry", sig)
    assert [r.action_ref for r in hits] == ["self_healing.certificate_expiry"]

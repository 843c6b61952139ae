"""Table-driven tests of the policy gate: every rule, their order and combinations."""
import pytest

from lib import audit, clock, policy
from support.healing_fakes import T0, FakeCluster, FakeKube, FixedClock, node, settings, store

NODE = {"kind": "Node", "name": "node-1"}
DEPLOY = {"kind": "Deployment", "namespace": "production", "name": "analytics-worker"}
POD = {"kind": "Pod", "namespace": "production", "name": "analytics-worker-7f8d9"}
BASE = {"playbook": "memory_pressure_node", "step": "cordon_node", "risk": "low",
        "target": NODE, "incident_id": "inc-1"}


def iso(offset_s):
    return clock.isoformat(T0 + offset_s)


def sick(n, ready="False", pressure=None, total=10, since="2026-11-28T02:00:00Z"):
    """`n` unhealthy nodes among `total`."""
    return [node("node-%d" % i, ready=ready if i < n else "True",
                 pressure=pressure if i < n else None, since=since) for i in range(total)]


def kv(**items):
    return items


# name, config overrides, datastore contents, cluster, request overrides,
# expected decision, expected deciding check, text expected in the reason, expected dry_run
CASES = [
    ("autonomous low executes", {}, {}, None, {}, "execute", "risk", "within", False),
    ("observe denies", {"mode": "observe"}, {}, None, {}, "deny", "mode", "observe", False),
    ("dry_run mode executes as dry run", {"mode": "dry_run"}, {}, None, {},
     "execute", "risk", "dry run", True),
    ("dry_run request executes as dry run", {}, {}, None, {"dry_run": True},
     "execute", "risk", "dry run", True),
    ("dry_run mode reports a would-escalate", {"mode": "dry_run"}, {}, None, {"risk": "high"},
     "execute", "risk", "would escalate", True),
    ("high risk escalates", {}, {}, None, {"risk": "high"}, "escalate", "risk", "above", False),
    ("medium within medium executes", {}, {}, None, {"risk": "medium", "step": "scale_node_pool"},
     "execute", "risk", "within", False),
    ("critical never autonomous", {"max_autonomous_risk": "high"}, {}, None,
     {"risk": "critical"}, "escalate", "risk", "never autonomous", False),
    ("playbook override lowers max", {"playbook_risk_overrides": {"pod_crash_loop": "low"}}, {},
     None, {"playbook": "pod_crash_loop", "step": "scale_up", "risk": "medium",
            "target": DEPLOY}, "escalate", "risk", "above max autonomous risk low", False),
    ("playbook override raises max", {"playbook_risk_overrides": {"memory_leak": "high"}}, {},
     None, {"playbook": "memory_leak", "step": "restart_pod", "risk": "high", "target": POD},
     "execute", "risk", "within high", False),
    ("approved high executes", {}, {}, None, {"risk": "high", "approved": True},
     "execute", "risk", "approved", False),
    ("approved critical executes", {}, {}, None, {"risk": "critical", "approved": True},
     "execute", "risk", "approved", False),
    ("hyphenated playbook accepted", {}, {}, None, {"playbook": "memory-pressure-node"},
     "execute", "risk", "", False),
    ("unknown playbook", {}, {}, None, {"playbook": "yolo"}, "deny", "input",
     "unknown playbook", False),
    ("bad step name", {}, {}, None, {"step": "Cordon-Node"}, "deny", "input", "bad step", False),
    ("empty step", {}, {}, None, {"step": ""}, "deny", "input", "bad step", False),
    ("unknown risk", {}, {}, None, {"risk": "extreme"}, "deny", "input", "unknown risk", False),
    ("missing target", {}, {}, None, {"target": None}, "deny", "input", "missing target", False),
    ("target without name", {}, {}, None, {"target": {"kind": "Node"}}, "deny", "input",
     "missing target", False),
    ("namespaced target without namespace", {}, {}, None,
     {"target": {"kind": "Pod", "name": "p"}}, "deny", "input", "namespace", False),
    ("unknown target kind", {}, {}, None, {"target": {"kind": "Galaxy", "name": "x"}},
     "deny", "input", "unknown target kind", False),
    ("unknown budget", {}, {}, None, {"budget": "lots"}, "deny", "input", "unknown budget",
     False),
    ("bad units", {}, {}, None, {"units": 0}, "deny", "input", "units", False),
    ("kill switch", {}, kv(kill_switch={"engaged": True, "by": "ana", "reason": "drill"}), None,
     {}, "deny", "kill", "ana: drill", False),
    ("kill switch released", {}, kv(kill_switch={"engaged": False}), None, {},
     "execute", "risk", "", False),
    ("kube-system protected", {}, {}, None,
     {"target": {"kind": "Pod", "namespace": "kube-system", "name": "coredns-1"}},
     "deny", "protected", "kube-system", False),
    ("healer namespace protected", {"healer_namespace": "healer"}, {}, None,
     {"target": {"kind": "Pod", "namespace": "healer", "name": "healer-0"}},
     "deny", "protected", "healer", False),
    ("protected label", {}, {}, FakeCluster(meta={
        "Pod/production/analytics-worker-7f8d9": {
            "labels": {"self-healing.io/protected": "true"}}}),
     {"target": POD, "step": "evict_pods", "risk": "medium"}, "deny", "protected",
     "protected label", False),
    ("critical priority class", {}, {}, FakeCluster(meta={
        "Pod/production/analytics-worker-7f8d9": {
            "labels": {}, "priority_class": "system-cluster-critical"}}),
     {"target": POD, "step": "evict_pods", "risk": "medium"}, "deny", "protected",
     "system-cluster-critical", False),
    ("protected label on node", {}, {}, FakeCluster(meta={
        "Node//node-1": {"labels": {"self-healing.io/protected": "true"}}}), {},
     "deny", "protected", "protected label", False),
    ("target missing", {}, {}, FakeCluster(), {"target": {"kind": "Node", "name": "missing-1"}},
     "deny", "protected", "not found", False),
    ("labels unreadable fails closed", {}, {}, FakeCluster(fail="meta"), {},
     "deny", "protected", "cannot verify", False),
    ("change freeze", {"change_freeze": [{"start": iso(-60), "end": iso(3600),
                                          "reason": "black friday"}]}, {}, None, {},
     "deny", "freeze", "black friday", False),
    ("freeze over", {"change_freeze": [{"start": iso(-7200), "end": iso(-60),
                                        "reason": "x"}]}, {}, None, {}, "execute", "risk", "",
     False),
    ("freeze lets restoring steps run", {"change_freeze": [{"start": iso(-60), "end": iso(60),
                                                           "reason": "x"}]}, {}, None,
     {"step": "uncordon_node"}, "execute", "risk", "", False),
    ("freeze lets read-only steps run", {"change_freeze": [{"start": iso(-60), "end": iso(60),
                                                           "reason": "x"}]}, {}, None,
     {"step": "identify_top_memory_pods", "risk": "none"}, "execute", "risk", "", False),
    ("locked by another incident", {}, {"lock.node._.node-1": {"incident_id": "inc-0"}}, None,
     {}, "deny", "lock", "inc-0", False),
    ("own lock re-enters", {}, {"lock.node._.node-1": {"incident_id": "inc-1"}}, None, {},
     "execute", "risk", "", False),
    ("cooldown from another incident", {}, {"cooldown.node._.node-1": {
        "incident_id": "inc-0", "at_epoch": T0 - 100}}, None, {}, "deny", "cooldown",
     "cooldown", False),
    ("cooldown expired", {}, {"cooldown.node._.node-1": {
        "incident_id": "inc-0", "at_epoch": T0 - 601}}, None, {}, "execute", "risk", "", False),
    ("own cooldown passes", {}, {"cooldown.node._.node-1": {
        "incident_id": "inc-1", "at_epoch": T0 - 1}}, None, {}, "execute", "risk", "", False),
    ("storm: 2 of 10 NotReady", {}, {}, FakeCluster(sick(2)), {}, "deny", "storm",
     "2 of 10", False),
    ("one sick node is no storm", {}, {}, FakeCluster(sick(1, pressure="MemoryPressure",
                                                           ready="True")), {},
     "execute", "risk", "", False),
    ("pressure counts as unhealthy", {}, {}, FakeCluster(sick(2, ready="True",
                                                              pressure="DiskPressure")), {},
     "deny", "storm", "node storm", False),
    ("NotReady under 300 s does not count", {}, {}, FakeCluster(sick(3, since=iso(-120))), {},
     "execute", "risk", "", False),
    ("absolute limit on a big cluster", {}, {}, FakeCluster(sick(4, total=50)), {},
     "deny", "storm", "4 of 50", False),
    ("3 of 50 within the absolute limit", {}, {}, FakeCluster(sick(3, total=50)), {},
     "execute", "risk", "", False),
    ("storm cooldown holds after the storm", {}, {"storm": {
        "last_seen_epoch": T0 - 600, "unhealthy": ["a", "b"]}}, FakeCluster(), {},
     "deny", "storm", "storm cooldown", False),
    ("storm cooldown over", {}, {"storm": {"last_seen_epoch": T0 - 1801, "unhealthy": ["a"]}},
     FakeCluster(), {}, "execute", "risk", "", False),
    ("storm ignores deployment rollbacks", {}, {}, FakeCluster(sick(5)),
     {"playbook": "pod_crash_loop", "step": "rollback_deployment", "risk": "medium",
      "target": DEPLOY}, "execute", "risk", "", False),
    ("storm lets uncordon restore", {}, {}, FakeCluster(sick(5)), {"step": "uncordon_node"},
     "execute", "risk", "", False),
    ("cordon budget spent", {}, {}, FakeCluster([node("node-1"),
                                                 node("node-2", cordoned_by_healer=True)]),
     {}, "deny", "cordon", "node-2", False),
    ("re-cordoning the same node is free", {}, {}, FakeCluster(
        [node("node-1", cordoned_by_healer=True)]), {}, "execute", "risk", "", False),
    ("nodes cordoned by humans are not counted", {}, {}, FakeCluster(
        [node("node-1"), node("node-2", unschedulable=True)]), {}, "execute", "risk", "", False),
    ("cordon budget raised", {"budgets": {"max_cordoned_nodes": 2}}, {}, FakeCluster(
        [node("node-1"), node("node-2", cordoned_by_healer=True)]), {}, "execute", "risk", "",
     False),
    ("eviction budget spent", {}, {"budget.eviction._.%d" % (T0 * 1000 - i): {
        "units": 1, "at_epoch": T0 - 10} for i in range(10)}, None,
     {"step": "evict_non_critical_pods", "risk": "medium"}, "deny", "rate", "eviction", False),
    ("old evictions do not count", {}, {"budget.eviction._.%d" % (T0 * 1000 - i): {
        "units": 1, "at_epoch": T0 - 3601} for i in range(10)}, None,
     {"step": "evict_non_critical_pods", "risk": "medium"}, "execute", "risk", "", False),
    ("units beyond the budget", {}, {"budget.eviction._.1": {"units": 9, "at_epoch": T0}},
     None, {"step": "evict_non_critical_pods", "risk": "medium", "units": 2},
     "deny", "rate", "2 more", False),
    ("rollback budget per namespace", {}, {
        "budget.rollback.production.1": {"units": 1, "at_epoch": T0 - 5},
        "budget.rollback.production.2": {"units": 1, "at_epoch": T0 - 5}}, None,
     {"playbook": "pod_crash_loop", "step": "rollback_deployment", "risk": "medium",
      "target": DEPLOY}, "deny", "rate", "rollback budget for namespace production", False),
    ("rollback budget of another namespace", {}, {
        "budget.rollback.staging.1": {"units": 2, "at_epoch": T0 - 5}}, None,
     {"playbook": "pod_crash_loop", "step": "rollback_deployment", "risk": "medium",
      "target": DEPLOY}, "execute", "risk", "", False),
    ("explicit budget input", {}, {"budget.rollback._.1": {"units": 2, "at_epoch": T0}}, None,
     {"step": "undo_release", "budget": "rollback"}, "deny", "rate", "rollback", False),
    # combinations: the first objecting check decides
    ("observe beats kill switch", {"mode": "observe"}, kv(kill_switch={"engaged": True}), None,
     {}, "deny", "mode", "observe", False),
    ("kill switch beats protection", {}, kv(kill_switch={"engaged": True}), None,
     {"target": {"kind": "Pod", "namespace": "kube-system", "name": "x"}}, "deny", "kill", "",
     False),
    ("bad input beats everything", {"mode": "observe"}, kv(kill_switch={"engaged": True}), None,
     {"risk": "whatever"}, "deny", "input", "unknown risk", False),
    ("safety beats escalation", {}, {}, FakeCluster(sick(3)), {"risk": "high"},
     "deny", "storm", "", False),
    ("dry run still honours the lock", {"mode": "dry_run"},
     {"lock.node._.node-1": {"incident_id": "inc-0"}}, None, {}, "deny", "lock", "", True),
    ("freeze beats lock", {"change_freeze": [{"start": iso(-1), "end": iso(1), "reason": "f"}]},
     {"lock.node._.node-1": {"incident_id": "inc-0"}}, None, {}, "deny", "freeze", "", False),
    ("approval does not bypass the kill switch", {}, kv(kill_switch={"engaged": True}), None,
     {"risk": "high", "approved": True}, "deny", "kill", "", False),
]


@pytest.fixture(autouse=True)
def fixed_clock():
    FixedClock().install()
    yield
    clock.reset()


@pytest.mark.parametrize("name,config,stored,cluster,request_overrides,decision,check,text,dry",
                         CASES, ids=[c[0] for c in CASES])
def test_gate_rule(name, config, stored, cluster, request_overrides, decision, check, text, dry):
    ds = store()
    for key, value in stored.items():
        ds.set_json(key, value)
    args = dict(BASE)
    args.update(request_overrides)
    gate = policy.Gate(settings(**config), ds, cluster, FakeKube())
    result = gate.decide(policy.Request(**args))
    assert (result["decision"], result["check"]) == (decision, check), result["reason"]
    assert text in result["reason"]
    assert result["dry_run"] is dry
    assert result["audit_key"].startswith("self_healing.audit.")


def test_check_order_is_documented():
    for name in policy.CHECK_ORDER:
        assert hasattr(policy.Gate, "_check_" + name)
        assert "  %s" % name in policy.__doc__ or " %s " % name in policy.__doc__


def test_execute_takes_lock_cooldown_and_budget_then_other_incident_is_denied():
    ds = store()
    gate = policy.Gate(settings(), ds, FakeCluster(), FakeKube())
    first = gate.decide(policy.Request("pod_crash_loop", "rollback_deployment", "medium",
                                       DEPLOY, "inc-1"))
    assert first["decision"] == "execute" and first["budget_left"] == 1
    lock = ds.get_json("lock.deployment.production.analytics-worker")
    assert lock["incident_id"] == "inc-1"
    assert ds.get_json("cooldown.deployment.production.analytics-worker")["incident_id"] == "inc-1"
    assert policy.spent_units(ds, "rollback", "production", clock.now()) == 1
    again = gate.decide(policy.Request("pod_crash_loop", "rollback_deployment", "medium",
                                       DEPLOY, "inc-1"))
    assert again["decision"] == "execute" and again["budget_left"] == 0
    third = gate.decide(policy.Request("pod_crash_loop", "rollback_deployment", "medium",
                                       DEPLOY, "inc-1"))
    assert third["decision"] == "deny" and third["check"] == "rate"
    other = gate.decide(policy.Request("pod_crash_loop", "scale_up_healthy_replicas", "low",
                                       DEPLOY, "inc-2"))
    assert other["decision"] == "deny" and "inc-1" in other["reason"]
    released = policy.release_incident(ds, "inc-1", settings())
    assert released == ["deployment.production.analytics-worker"]
    assert ds.get_json("lock.deployment.production.analytics-worker") is None
    after = gate.decide(policy.Request("pod_crash_loop", "scale_up_healthy_replicas", "low",
                                       DEPLOY, "inc-2"))
    assert after["check"] == "cooldown", "released target still cools down"


def test_dry_run_and_escalate_have_no_side_effects():
    ds = store()
    gate = policy.Gate(settings(mode="dry_run"), ds, FakeCluster(), FakeKube())
    result = gate.decide(policy.Request("pod_crash_loop", "rollback_deployment", "medium",
                                        DEPLOY, "inc-1"))
    assert result["decision"] == "execute" and result["dry_run"] is True
    gate = policy.Gate(settings(), ds, FakeCluster(), FakeKube())
    result = gate.decide(policy.Request("pod_crash_loop", "rollback_deployment", "high",
                                        DEPLOY, "inc-1"))
    assert result["decision"] == "escalate"
    assert ds.list_json("lock.") == {} and ds.list_json("cooldown.") == {}
    assert ds.list_json("budget.") == {}


def test_read_only_steps_take_no_lock():
    ds = store()
    gate = policy.Gate(settings(), ds, FakeCluster(), FakeKube())
    gate.decide(policy.Request("memory_pressure_node", "identify_top_memory_pods", "none", NODE,
                               "inc-1"))
    assert ds.list_json("lock.") == {}


def test_storm_is_remembered_for_the_cooldown():
    ds = store()
    cluster = FakeCluster(sick(3))
    gate = policy.Gate(settings(), ds, cluster, FakeKube())
    assert gate.decide(policy.Request(**BASE))["check"] == "storm"
    cluster._nodes = sick(0)
    held = gate.decide(policy.Request(**BASE))
    assert held["decision"] == "deny" and "storm cooldown" in held["reason"]
    clock.sleep(1801)
    assert gate.decide(policy.Request(**BASE))["decision"] == "execute"


def test_every_decision_is_audited_and_evented():
    ds = store()
    kube = FakeKube()
    gate = policy.Gate(settings(), ds, FakeCluster(), kube)
    ok = gate.decide(policy.Request(**BASE))
    denied = gate.decide(policy.Request("memory_pressure_node", "cordon_node", "low",
                                        {"kind": "Pod", "namespace": "kube-system", "name": "x"},
                                        "inc-1"))
    records = audit.records(ds)
    assert [r["decision"] for r in records] == ["execute", "deny"]
    assert records[0]["audit_key"] == ok["audit_key"]
    assert records[1]["reason"] == denied["reason"]
    (ns1, ev1), (ns2, ev2) = kube.core.events
    assert (ns1, ev1["involvedObject"]["kind"], ev1["type"]) == ("default", "Node", "Normal")
    assert ev1["reason"] == "SelfHealingPolicy"
    assert ev1["source"]["component"] == "self-healing"
    assert (ns2, ev2["type"]) == ("kube-system", "Warning")
    assert "kube-system is protected" in ev2["message"]


def test_event_failure_is_recorded_but_does_not_flip_the_decision():
    ds = store()
    gate = policy.Gate(settings(), ds, FakeCluster(), FakeKube(fail=True))
    result = gate.decide(policy.Request(**BASE))
    assert result["decision"] == "execute"
    assert "events API refused" in result["event_error"]
    assert "events API refused" in ds.get_json(result["audit_key"])["event_error"]


def test_bad_input_without_target_is_audited_without_event():
    ds = store()
    kube = FakeKube()
    result = policy.Gate(settings(), ds, None, kube).decide(
        policy.Request("memory_pressure_node", "cordon_node", "low", None, "inc-1"))
    assert result["decision"] == "deny"
    assert kube.core.events == []
    assert audit.records(ds)[0]["decision"] == "deny"


def test_default_budget_by_step_name():
    assert [policy.default_budget(s) for s in (
        "evict_non_critical_pods", "drain_node", "rollback_if_recent_deploy", "cordon_node",
        "uncordon_node", "scale_node_pool")] == [
        "eviction", "eviction", "rollback", "cordon", "none", "none"]


def test_storm_limit():
    assert policy.storm_limit(10, 3, 10) == 1
    assert policy.storm_limit(50, 3, 10) == 3
    assert policy.storm_limit(3, 3, 10) == 1
    assert policy.storm_limit(10, 0, 10) == 0


def test_nodes_are_listed_once_per_decision():
    cluster = FakeCluster([node("node-1"), node("node-2")])
    policy.Gate(settings(), store(), cluster, FakeKube()).decide(policy.Request(**BASE))
    assert cluster.node_calls == 1


@pytest.mark.parametrize("risk,stored,would", [
    ("low", {}, "execute"),
    ("high", {}, "escalate"),
    ("low", {"lock.node._.node-1": {"incident_id": "inc-0"}}, "deny"),
])
def test_observe_mode_records_what_autonomous_mode_would_do(risk, stored, would):
    ds = store()
    for key, value in stored.items():
        ds.set_json(key, value)
    result = policy.Gate(settings(mode="observe"), ds, FakeCluster(), FakeKube()).decide(
        policy.Request(**dict(BASE, risk=risk)))
    assert (result["decision"], result["check"], result["would"]) == ("deny", "mode", would)
    assert len(ds.list_json("lock.")) == len(stored) and ds.list_json("cooldown.") == {}


@pytest.mark.parametrize("target", ["node-1", ["Node", "node-1"], 7])
def test_malformed_target_is_denied(target):
    kube = FakeKube()
    result = policy.Gate(settings(), store(), FakeCluster(), kube).decide(
        policy.Request(**dict(BASE, target=target)))
    assert result["decision"] == "deny" and "missing target" in result["reason"]
    assert kube.core.events == []

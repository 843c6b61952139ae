"""Budget reservation at the gate and settlement to the step's real effect (lib.policy_budget)."""
import pytest

from lib import audit, clock, policy, policy_budget
from support.healing_fakes import T0, FakeCluster, FakeKube, FixedClock, node, settings, store

NODE = {"kind": "Node", "name": "node-1"}
DEPLOY = {"kind": "Deployment", "namespace": "production", "name": "web"}


@pytest.fixture(autouse=True)
def fixed_clock():
    fake = FixedClock().install()
    yield fake
    clock.reset()


def evict_request(units, incident="inc-1", target=NODE):
    return policy.Request("memory_pressure_node", "evict_non_critical_pods", "medium", target,
                          incident, units=units)


def budget_records(ds, budget="eviction"):
    return {k: v for k, v in ds.list_json("budget.%s." % budget).items()}


# -- derivation ---------------------------------------------------------------------------
@pytest.mark.parametrize("action,params,counter,units", [
    ("self_healing.evict_pods", {"node": "n"}, None, 5),
    ("self_healing.evict_pods", {"node": "n", "max_evictions": 3}, None, 3),
    ("self_healing.evict_pods", {"node": "n", "pods": ["a/x", "a/y"]}, None, 2),
    ("self_healing.evict_pods", {"node": "n"}, lambda *a: 2, 2),
    ("self_healing.evict_pods", {"node": "n", "max_evictions": 3}, lambda *a: 9, 3),
    ("self_healing.evict_pods", {"node": "n"}, lambda *a: 0, 1),
    ("self_healing.drain_node", {"node": "n"}, None, 50),
    ("self_healing.drain_node", {"node": "n"}, lambda *a: 4, 4),
    ("self_healing.cordon_node", {"node": "n"}, None, 1),
    ("self_healing.scale_deployment", {"delta": -3}, None, 3),
    ("self_healing.scale_node_pool", {"delta": 2}, None, 2),
    ("self_healing.rollback_deployment", {}, None, 1),
    ("", None, None, 1),
])
def test_derive_units(action, params, counter, units):
    assert policy_budget.derive_units(action, params, counter) == units


def test_derive_units_falls_back_to_the_max_when_pods_cannot_be_counted():
    def broken(*_):
        raise RuntimeError("API down")
    assert policy_budget.derive_units("self_healing.drain_node", {"node": "n",
                                                                  "max_evictions": 7},
                                      broken) == 7


def test_budget_for_uses_the_step_name_then_the_action():
    assert policy_budget.budget_for("eviction", "self_healing.scale_deployment") == "eviction"
    assert policy_budget.budget_for("none", "self_healing.evict_pods") == "eviction"
    assert policy_budget.budget_for("none", "self_healing.rollback_deployment") == "rollback"
    assert policy_budget.budget_for("none", "self_healing.cordon_node") == "cordon"
    assert policy_budget.budget_for("none", "self_healing.uncordon_node") == "none"


# -- buckets ------------------------------------------------------------------------------
def test_node_targets_reserve_in_the_cluster_bucket():
    ds = store()
    result = policy.Gate(settings(), ds, None, FakeKube()).decide(evict_request(5))
    assert result["decision"] == "execute" and result["units"] == 5
    assert result["reservation"].startswith("self_healing.budget.eviction._cluster.")
    assert result["budget_left"] == 5
    assert policy_budget.spent_units(ds, "eviction", "_cluster", clock.now()) == 5


def test_legacy_underscore_bucket_still_counts_for_node_targets():
    ds = store()
    ds.set_json("budget.eviction._.1", {"units": 8, "at_epoch": T0 - 60})
    gate = policy.Gate(settings(), ds, None, FakeKube())
    assert policy_budget.spent_units(ds, "eviction", "_cluster", clock.now()) == 8
    denied = gate.decide(evict_request(3))
    assert (denied["decision"], denied["check"]) == ("deny", "rate")
    assert "namespace _cluster" in denied["reason"]
    assert gate.decide(evict_request(2))["decision"] == "execute"


# -- settlement ---------------------------------------------------------------------------
def test_settle_charges_evicted_namespaces_and_refunds_the_rest():
    ds = store()
    gate = policy.Gate(settings(), ds, None, FakeKube())
    reservation = gate.decide(evict_request(5))["reservation"]
    result = {"changed": True, "dry_run": False,
              "evicted": ["shop/a-1", "shop/a-2", "batch/b-1"]}
    out = policy_budget.settle(ds, reservation, "self_healing.evict_pods", result)
    assert out["settled"] and not out["already_settled"]
    assert out["charged"] == {"shop": 2, "batch": 1, "_cluster": 3}
    assert (out["reserved"], out["refunded"]) == (5, 2)
    now = clock.now()
    assert policy_budget.spent_units(ds, "eviction", "_cluster", now) == 3
    assert policy_budget.spent_units(ds, "eviction", "shop", now) == 2
    assert policy_budget.spent_units(ds, "eviction", "batch", now) == 1
    assert ds.get_json(reservation) is None
    again = policy_budget.settle(ds, reservation, "self_healing.evict_pods", result)
    assert again["already_settled"] is True and again["charged"] == out["charged"]
    assert policy_budget.spent_units(ds, "eviction", "_cluster", now) == 3
    assert policy_budget.spent_units(ds, "eviction", "shop", now) == 2
    decision = [r for r in audit.records(ds) if r.get("type") == "policy_decision"][0]
    assert (decision["units"], decision["reservation"]) == (5, reservation)
    records = [r for r in audit.records(ds) if r.get("type") == "budget_settlement"]
    assert len(records) == 1 and records[0]["refunded"] == 2
    assert records[0]["reservation"] == reservation


def test_settled_budget_frees_room_for_the_next_step():
    ds = store()
    gate = policy.Gate(settings(), ds, None, FakeKube())
    first = gate.decide(evict_request(5))
    assert gate.decide(evict_request(6))["check"] == "rate"
    policy_budget.settle(ds, first["reservation"], "self_healing.evict_pods",
                         {"changed": True, "evicted": ["shop/a-1"]})
    assert gate.decide(evict_request(6))["decision"] == "execute"


def test_failed_step_refunds_everything():
    ds = store()
    reservation = policy.Gate(settings(), ds, None, FakeKube()).decide(
        evict_request(4))["reservation"]
    out = policy_budget.settle(ds, reservation, "self_healing.evict_pods",
                               {"evicted": ["shop/a-1"]}, failed=True)
    assert out["failed"] is True and out["charged"] == {} and out["refunded"] == 4
    assert budget_records(ds) == {}


def test_dry_run_result_charges_nothing():
    ds = store()
    reservation = policy.Gate(settings(), ds, None, FakeKube()).decide(
        evict_request(2))["reservation"]
    out = policy_budget.settle(ds, reservation, "self_healing.evict_pods",
                               {"dry_run": True, "evicted": [], "would_evict": ["a/b"]})
    assert out["charged"] == {} and out["refunded"] == 2


def test_rollback_that_changed_nothing_is_refunded():
    ds = store()
    gate = policy.Gate(settings(), ds, None, FakeKube())
    first = gate.decide(policy.Request("pod_crash_loop", "rollback_deployment", "medium",
                                       DEPLOY, "inc-1"))
    assert first["reservation"].startswith("self_healing.budget.rollback.production.")
    out = policy_budget.settle(ds, first["reservation"], "self_healing.rollback_deployment",
                               {"changed": False})
    assert out["charged"] == {} and out["refunded"] == 1
    changed = gate.decide(policy.Request("pod_crash_loop", "rollback_deployment", "medium",
                                         DEPLOY, "inc-1"))
    out = policy_budget.settle(ds, changed["reservation"], "self_healing.rollback_deployment",
                               {"changed": True})
    assert out["charged"] == {"production": 1}
    assert policy_budget.spent_units(ds, "rollback", "production", clock.now()) == 1


def test_scaling_is_settled_to_the_replicas_it_moved():
    ds = store()
    gate = policy.Gate(settings(), ds, None, FakeKube())
    first = gate.decide(policy.Request("pod_crash_loop", "scale_down", "low", DEPLOY, "inc-1",
                                       budget="eviction", units=4))
    out = policy_budget.settle(ds, first["reservation"], "self_healing.scale_deployment",
                               {"changed": True, "previous_replicas": 5, "replicas": 3})
    assert out["charged"] == {"production": 2} and out["refunded"] == 2


def test_no_reservation_and_foreign_keys_settle_nothing():
    ds = store()
    ds.set_json("kill_switch", {"engaged": True})
    assert policy_budget.settle(ds, "", "x", {})["settled"] is False
    out = policy_budget.settle(ds, "self_healing.kill_switch", "x", {"changed": True})
    assert out["charged"] == {} and "not found" in out["reason"]
    assert ds.get_json("kill_switch") == {"engaged": True}
    ds.set_json("budget.eviction.shop.1", {"units": 3, "at_epoch": T0})
    policy_budget.settle(ds, "self_healing.budget.eviction.shop.1", "x", {"changed": True})
    assert ds.get_json("budget.eviction.shop.1")["units"] == 3, "a charge is not a reservation"


def test_dry_run_reserves_nothing():
    ds = store()
    result = policy.Gate(settings(mode="dry_run"), ds, None, FakeKube()).decide(
        evict_request(3))
    assert result["reservation"] == "" and budget_records(ds) == {}


# -- pending cordons ----------------------------------------------------------------------
def cordon(gate, name, incident):
    return gate.decide(policy.Request("memory_pressure_node", "cordon_node", "low",
                                      {"kind": "Node", "name": name}, incident))


def test_a_pending_cordon_counts_against_the_node_budget(fixed_clock):
    ds = store()
    gate = policy.Gate(settings(), ds, FakeCluster([node("node-%d" % i) for i in range(10)]),
                       FakeKube())
    first = cordon(gate, "node-1", "inc-1")
    assert first["decision"] == "execute"
    assert first["reservation"].startswith("self_healing.budget.cordon._cluster.")
    second = cordon(gate, "node-2", "inc-2")
    assert (second["decision"], second["check"]) == ("deny", "cordon")
    assert "node-1 (pending)" in second["reason"]
    assert cordon(gate, "node-1", "inc-1")["decision"] == "execute", "its own node is free"
    fixed_clock.t += policy_budget.PENDING_CORDON_S + 1
    assert cordon(gate, "node-2", "inc-2")["decision"] == "execute", "the window ended"


def test_settled_cordon_leaves_the_count_to_the_cluster():
    ds = store()
    nodes = [node("node-%d" % i) for i in range(10)]
    cluster = FakeCluster(nodes)
    gate = policy.Gate(settings(), ds, cluster, FakeKube())
    first = cordon(gate, "node-1", "inc-1")
    out = policy_budget.settle(ds, first["reservation"], "self_healing.cordon_node",
                               {"changed": False})
    assert out["charged"] == {} and out["refunded"] == 1
    assert policy_budget.pending_cordons(ds, clock.now()) == []
    assert cordon(gate, "node-2", "inc-2")["decision"] == "execute"
    cluster._nodes = [node("node-2", cordoned_by_healer=True)] + nodes[3:]
    pending = [k for k in budget_records(ds, "cordon")]
    policy_budget.settle(ds, pending[0], "self_healing.cordon_node", {"changed": True})
    denied = cordon(gate, "node-3", "inc-3")
    assert denied["check"] == "cordon" and "(pending)" not in denied["reason"]


def test_status_budgets_count_pending_cordons():
    ds = store()
    cluster = FakeCluster([node("node-%d" % i) for i in range(10)])
    config = settings(budgets={"max_cordoned_nodes": 2})
    gate = policy.Gate(config, ds, cluster, FakeKube())
    assert policy.budgets_left(config, ds, [], cluster)["cordons"] == 2
    cordon(gate, "node-1", "inc-1")
    assert policy.budgets_left(config, ds, [], cluster)["cordons"] == 1
    cluster._nodes = [node("node-1", cordoned_by_healer=True)] + cluster._nodes[1:]
    assert policy.budgets_left(config, ds, [], cluster)["cordons"] == 1, "counted once"

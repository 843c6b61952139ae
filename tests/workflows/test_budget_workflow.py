"""Budget reservation and settlement through run_plan/guarded_step (orquesta, engine).

The gate and settle_budget here are the pack's real actions (check_policy, settle_budget) on one
fake datastore and fake cluster; every other action is recorded."""
import pytest

pytestmark = pytest.mark.orquesta

from check_policy import CheckPolicy  # noqa: E402
from lib import policy_budget  # noqa: E402
from lib.datastore import Datastore  # noqa: E402
from settle_budget import SettleBudget  # noqa: E402
from support.healing_fakes import DictService, FakeCluster, FakeKube, node  # noqa: E402
from support.workflow_fakes import (  # noqa: E402
    Failure, Recorded, add_recorded_action, make_runner)

INCIDENT = "inc-20261128-031722-test"
NODE = "node-7"
NODE_TARGET = {"kind": "Node", "name": NODE}


class BudgetRecorded(Recorded):
    """Recorded results, except that the gate and the settlement are the real actions."""

    def __init__(self, pack, results=None, config=None, cluster=None):
        super(BudgetRecorded, self).__init__(pack, results)
        self.service = DictService()
        self.config = dict(config or {"mode": "autonomous"})
        self.cluster = cluster or FakeCluster([node("node-%d" % i) for i in range(10)])
        self.gate_results = []
        self.settlements = []

    @property
    def store(self):
        return Datastore(self.service)

    def check_policy(self, params):
        self.gate_calls.append(params)
        action = CheckPolicy(config=self.config, action_service=self.service)
        action.cluster, action.events_kube = self.cluster, FakeKube()
        result = action.run(**params)
        self.gate_results.append(result)
        return result

    def settle_budget(self, params):
        result = SettleBudget(config=self.config, action_service=self.service).run(**params)
        self.settlements.append(result)
        return result


def evict_plan(step_extra=None, params_extra=None):
    params = {"node": NODE, "criteria": "priority < high AND restartable == true",
              "max_evictions": 5, "incident_id": INCIDENT}
    params.update(params_extra or {})
    step = {"step": "evict_non_critical_pods", "action": "self_healing.evict_pods",
            "risk": "medium", "target": NODE_TARGET, "params": params,
            "description": "evict pods from %s" % NODE}
    step.update(step_extra or {})
    return [step]


def run_plan(pack, clock, recorded, plan, dry_run=False):
    runner = make_runner(recorded, clock)
    add_recorded_action(runner, recorded, "settle_budget")
    execution = runner.run("self_healing.run_plan", {
        "incident_id": INCIDENT, "playbook": "disk_pressure", "plan": plan,
        "dry_run": dry_run, "channel": "#incidents", "inquiry_ttl_minutes": 30})
    return execution


def spent(recorded, bucket, budget="eviction"):
    return policy_budget.spent_units(recorded.store, budget, bucket,
                                     policy_budget.clock.now())


def test_a_step_without_units_reserves_its_max_and_is_settled_to_what_it_evicted(
        pack, manual_clock):
    evicted = {"changed": True, "dry_run": False, "evicted": ["shop/a-1", "batch/b-1"]}
    recorded = BudgetRecorded(pack, {"evict_pods": evicted})
    execution = run_plan(pack, manual_clock, recorded, evict_plan())
    assert execution.status == "succeeded", execution.result
    assert execution.result["output"]["outcome"] == "completed"
    gate_call = recorded.gate_calls[0]
    assert gate_call["units"] == 0 and gate_call["budget"] == ""
    assert gate_call["action"] == "self_healing.evict_pods"
    assert gate_call["params"]["max_evictions"] == 5
    gate = recorded.gate_results[0]
    assert gate["units"] == 5 and gate["reservation"].startswith(
        "self_healing.budget.eviction._cluster.")
    settle = recorded.called("settle_budget")
    assert len(settle) == 1 and settle[0]["reservation"] == gate["reservation"]
    assert settle[0]["failed"] is False and settle[0]["result"]["evicted"] == evicted["evicted"]
    assert recorded.settlements[0]["charged"] == {"shop": 1, "batch": 1, "_cluster": 2}
    assert recorded.settlements[0]["refunded"] == 3
    assert (spent(recorded, "_cluster"), spent(recorded, "shop")) == (2, 1)
    refs = recorded.refs()
    assert refs.index("self_healing.evict_pods") < refs.index("self_healing.settle_budget")


def test_declared_budget_and_units_reach_the_gate(pack, manual_clock):
    recorded = BudgetRecorded(pack, {"evict_pods": {"changed": True, "evicted": []}})
    execution = run_plan(pack, manual_clock, recorded,
                         evict_plan({"budget": "eviction", "units": 3}))
    assert execution.status == "succeeded", execution.result
    assert (recorded.gate_calls[0]["budget"], recorded.gate_calls[0]["units"]) == ("eviction", 3)
    assert recorded.gate_results[0]["units"] == 3
    assert recorded.settlements[0]["refunded"] == 3 and spent(recorded, "_cluster") == 0


def test_a_failed_step_refunds_its_reservation(pack, manual_clock):
    recorded = BudgetRecorded(pack, {"evict_pods": Failure({"error": "API down"})})
    execution = run_plan(pack, manual_clock, recorded, evict_plan())
    assert execution.status == "succeeded"
    assert execution.result["output"]["outcome"] == "failed"
    settle = recorded.called("settle_budget")
    assert len(settle) == 1 and settle[0]["failed"] is True
    assert recorded.settlements[0]["refunded"] == 5
    assert spent(recorded, "_cluster") == 0
    assert any("FAILED" in e["message"] for e in recorded.timeline)


def test_a_budget_the_step_would_exceed_is_denied_and_nothing_runs(pack, manual_clock):
    recorded = BudgetRecorded(pack, {"evict_pods": {"changed": True, "evicted": []}},
                              config={"mode": "autonomous",
                                      "budgets": {"max_evictions_per_hour_per_namespace": 4}})
    execution = run_plan(pack, manual_clock, recorded, evict_plan())
    assert execution.status == "succeeded", execution.result
    assert execution.result["output"]["denied"] == ["evict_non_critical_pods"]
    assert execution.result["output"]["check"] == "rate"
    assert recorded.called("evict_pods") == [] and recorded.called("settle_budget") == []


def test_a_dry_run_reserves_and_settles_nothing(pack, manual_clock):
    recorded = BudgetRecorded(pack, {"evict_pods": {"changed": False, "dry_run": True,
                                                    "evicted": []}})
    execution = run_plan(pack, manual_clock, recorded, evict_plan(), dry_run=True)
    assert execution.status == "succeeded", execution.result
    assert recorded.gate_results[0]["reservation"] == ""
    assert recorded.called("settle_budget") == []
    assert recorded.store.list_json("budget.") == {}


def test_concurrent_cordons_cannot_both_pass_the_node_budget(pack, manual_clock):
    """The first plan's cordon is still pending (its settle not yet run) when the second asks:
    with max_cordoned_nodes 1 the second is denied."""
    recorded = BudgetRecorded(pack)
    gate = CheckPolicy(config=recorded.config, action_service=recorded.service)
    gate.cluster, gate.events_kube = recorded.cluster, FakeKube()
    first = gate.run(playbook="disk_pressure", step="cordon_node", risk="low",
                     target={"kind": "Node", "name": "node-1"}, incident_id="inc-other",
                     action="self_healing.cordon_node", params={"node": "node-1"})
    assert first["decision"] == "execute" and first["reservation"]
    plan = [{"step": "cordon_node", "action": "self_healing.cordon_node", "risk": "low",
             "target": NODE_TARGET, "params": {"node": NODE, "incident_id": INCIDENT},
             "description": "cordon %s" % NODE}]
    execution = run_plan(pack, manual_clock, recorded, plan)
    assert execution.status == "succeeded", execution.result
    assert execution.result["output"]["denied"] == ["cordon_node"]
    assert "node-1 (pending)" in execution.result["output"]["reason"]
    assert recorded.called("cordon_node") == []


def test_a_settlement_that_fails_does_not_fail_the_step(pack, manual_clock):
    recorded = BudgetRecorded(pack, {"evict_pods": {"changed": True, "evicted": ["shop/a-1"]},
                                     "settle_budget": Failure({"error": "datastore down"})})
    execution = run_plan(pack, manual_clock, recorded, evict_plan())
    assert execution.status == "succeeded", execution.result
    assert execution.result["output"]["outcome"] == "completed"
    assert len(recorded.called("settle_budget")) == 1
    assert recorded.timeline[-1]["outcome"] == "executed"

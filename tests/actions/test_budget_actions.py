"""check_policy reserves what evict_pods would evict on the twin; settle_budget settles it to
the pods evict_pods really evicted (official client, RBAC of the pack's ServiceAccount)."""
import jsonschema

from action_case import TwinActionTestCase, output_schema
from check_policy import CheckPolicy
from evict_pods import EvictPods
from lib import clock, policy_budget
from lib.datastore import Datastore
from settle_budget import SettleBudget

CRITERIA = "priority < high AND restartable == true"


class BudgetOnTwinTest(TwinActionTestCase):
    action_cls = CheckPolicy
    action_name = "check_policy"

    def make(self, cls):
        return cls(config=self.twin.config(mode="autonomous"),
                   action_service=self.action_service)

    def gate(self, **params):
        args = dict(playbook="disk_pressure", step="evict_non_critical_pods", risk="medium",
                    target={"kind": "Node", "name": "node-a"}, incident_id="inc-1",
                    action="self_healing.evict_pods")
        args.update(params)
        result = self.make(CheckPolicy).run(**args)
        jsonschema.Draft4Validator(output_schema("check_policy")).validate(result)
        return result

    def test_reservation_is_the_pods_it_would_evict_and_settles_to_the_evicted(self):
        would = self.make(EvictPods).run(node="node-a", criteria=CRITERIA, max_evictions=20,
                                         dry_run=True)["would_evict"]
        self.assertTrue(2 <= len(would) < 10, would)
        gate = self.gate(params={"node": "node-a", "criteria": CRITERIA, "max_evictions": 20})
        self.assertEqual(gate["decision"], "execute", gate["reason"])
        self.assertEqual(gate["units"], len(would))
        self.assertTrue(gate["reservation"].startswith("self_healing.budget.eviction._cluster."))
        capped = self.gate(incident_id="inc-1", params={"node": "node-a", "criteria": CRITERIA,
                                                        "max_evictions": 1})
        self.assertEqual(capped["units"], 1)
        self.make(SettleBudget).run(reservation=capped["reservation"], failed=True)

        ran = self.make(EvictPods).run(node="node-a", criteria=CRITERIA + " AND namespace == prod",
                                       pods=[p for p in would if "analytics-worker" in p],
                                       incident_id="inc-1")
        self.assertEqual(len(ran["evicted"]), 2)
        settled = self.make(SettleBudget).run(reservation=gate["reservation"],
                                              action="self_healing.evict_pods", result=ran,
                                              incident_id="inc-1")
        jsonschema.Draft4Validator(output_schema("settle_budget")).validate(settled)
        self.assertEqual(settled["charged"], {"prod": 2, "_cluster": 2})
        self.assertEqual(settled["refunded"], len(would) - 2)
        store = Datastore(self.action_service)
        self.assertEqual(policy_budget.spent_units(store, "eviction", "_cluster", clock.now()), 2)
        self.assertEqual(policy_budget.spent_units(store, "eviction", "prod", clock.now()), 2)
        again = self.make(SettleBudget).run(reservation=gate["reservation"],
                                            action="self_healing.evict_pods", result=ran)
        self.assertTrue(again["already_settled"])
        self.assertEqual(policy_budget.spent_units(store, "eviction", "_cluster", clock.now()), 2)

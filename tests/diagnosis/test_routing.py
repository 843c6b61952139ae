"""lib.routing: the route of a cause playbook's run after diagnosis.

The YAQL switch every cause playbook carried before the routing moved into Python is kept
here verbatim (with its literal playbook list) as the reference: over a grid of diagnosis
results, lib.routing must give what that switch gave, for every cause playbook.
"""
import itertools
import os
import random

import jsonschema
import pytest
import yaml
from st2tests.base import BaseActionTestCase

from diagnose import Diagnose
from lib import catalogue, clock, routing
from support.diagnosis_fakes import GB, FakeFacts
from support.healing_fakes import T0, FixedClock

NODE = "gke-prod-pool-1-abc123"
SIGNAL = {
    "signal_id": "memory_pressure.node._.%s.%d" % (NODE, int(T0)),
    "detector": "memory_pressure",
    "target": {"kind": "Node", "namespace": "", "name": NODE, "node": NODE},
    "service": "", "severity": "high",
    "first_detected": "2026-11-28T03:17:22Z", "detected_at": "2026-11-28T03:17:22Z",
    "summary": "Memory pressure on node %s: 91%%" % NODE,
    "evidence": {"query": "", "values": {}}, "metadata": {"utilization_pct": 91.0}}


def _output_schema():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir,
                        "actions", "diagnose.yaml")
    with open(path) as handle:
        return yaml.safe_load(handle)["output_schema"]

# the hand-over targets as the playbooks listed them literally
LITERAL_TARGETS = ["memory_pressure_node", "memory_leak", "pod_crash_loop",
                   "connection_pool_exhaustion", "cascade_protection", "disk_pressure",
                   "certificate_expiry", "cpu_throttling", "node_not_ready"]
_LIST = "[" + ", ".join('"%s"' % p for p in LITERAL_TARGETS) + "]"

# diagnose task publish + route_diagnosis publishes, as in every cause playbook
YAQL_NEXT0 = '<% str(ctx().result.get(playbook) or "").replace("-", "_") %>'
YAQL_ROUTE = (
    '<% switch(ctx().handed_over => self, ctx().diagnosis.get(joined, false) and '
    'ctx().diagnosis.get(refined, false) and str(ctx().diagnosis.get(refined_playbook, "")) = '
    '"PB" => self, len(ctx().diagnosis.get(handovers) or []) > 0 or '
    '(ctx().diagnosis.get(refined, false) and str(ctx().diagnosis.get(refined_playbook, "")) in '
    '(ctx().diagnosis.get(playbooks_ran) or [])) => joined, ctx().diagnosis.get(joined, false) '
    'and ctx().diagnosis.get(refined, false) and str(ctx().diagnosis.get(refined_playbook, "")) '
    'in LIST => handover, ctx().diagnosis.get(joined, false) => joined, ctx().next_playbook in '
    'LIST and ctx().next_playbook != "PB" => handover, true => self) %>').replace("LIST", _LIST)
YAQL_NEXT = (
    '<% switch(ctx().diagnosis.get(joined, false) and ctx().diagnosis.get(refined, false) => '
    'str(ctx().diagnosis.get(refined_playbook, "")), true => ctx().next_playbook) %>')

MISSING = object()


def _diagnoses(playbook):
    """Every combination of the fields the switch reads (absent ones too, for a few)."""
    other = "memory_leak" if playbook != "memory_leak" else "disk_pressure"
    grid = {
        "joined": [True, False],
        "refined": [True, False],
        "refined_playbook": ["", playbook, other, "latency_anomaly"],
        "handovers": [[], [other]],
        "playbooks_ran": [[], [other], [playbook, "latency_anomaly"]],
        "playbook": ["", playbook.replace("_", "-"), other.replace("_", "-"), "error_rate"],
    }
    yield {}
    yield {"playbook": other}
    yield {"joined": True}
    yield {"refined": True, "refined_playbook": other, "playbooks_ran": [other]}
    yield {"joined": True, "refined": True, "refined_playbook": other}
    keys = sorted(grid)
    for values in itertools.product(*(grid[k] for k in keys)):
        yield dict(zip(keys, values))


def _cases(playbook):
    """The whole grid for one playbook (the one with the most routes); a fixed sample of it
    for the others (each YAQL evaluation takes milliseconds)."""
    cases = [(d, False) for d in _diagnoses(playbook)]
    cases += [(d, True) for d, _ in cases[::37]]
    if playbook == "pod_crash_loop":
        return cases
    return cases[:5] + random.Random(playbook).sample(cases, 40) + cases[-5:]


_PARSED = {}


def _evaluate(text, data):
    """Orquesta's YAQL evaluation of one `<% ... %>` expression, parsed once."""
    from orquesta.expressions.yql import YAQLEvaluator

    if text not in _PARSED:
        _PARSED[text] = YAQLEvaluator._engine(YAQLEvaluator.strip_delimiter(text))
    return _PARSED[text].evaluate(context=YAQLEvaluator.contextualize(data))


def _yaql(diagnosis, playbook, handed_over):
    next0 = _evaluate(YAQL_NEXT0, {"result": diagnosis})
    data = {"diagnosis": diagnosis, "handed_over": handed_over, "next_playbook": next0}
    return (_evaluate(YAQL_ROUTE.replace("PB", playbook), data), _evaluate(YAQL_NEXT, data))


def test_the_targets_are_the_catalogues_cause_playbooks():
    assert routing.handover_targets() == frozenset(LITERAL_TARGETS)
    assert set(catalogue.PLAYBOOK_NAMES) - routing.handover_targets() == {
        "latency_anomaly", "error_rate"}


@pytest.mark.orquesta
@pytest.mark.parametrize("playbook", LITERAL_TARGETS)
def test_routing_gives_what_the_yaql_switch_gave(playbook):
    checked = set()
    for diagnosis, handed_over in _cases(playbook):
        expected = _yaql(diagnosis, playbook, handed_over)
        assert routing.route(diagnosis, playbook, handed_over) == expected, diagnosis
        checked.add(expected[0])
    assert checked == {"self", "joined", "handover"}


def test_a_handed_over_run_plans_for_itself():
    diagnosis = {"joined": True, "refined": False, "playbook": "memory-leak",
                 "handovers": ["pod_crash_loop"]}
    assert routing.route(diagnosis, "pod_crash_loop", True) == ("self", "memory_leak")


def test_a_cause_naming_another_playbook_hands_over_with_dashes_replaced():
    diagnosis = {"joined": False, "playbook": "memory-pressure-node", "handovers": [],
                 "playbooks_ran": ["memory_leak"]}
    assert routing.route(diagnosis, "memory_leak", False) == ("handover",
                                                              "memory_pressure_node")
    assert routing.route(diagnosis, "memory_pressure_node", False) == (
        "self", "memory_pressure_node")


def test_a_diagnosis_naming_a_symptom_playbook_is_not_handed_to_it():
    diagnosis = {"joined": False, "playbook": "latency_anomaly"}
    assert routing.route(diagnosis, "cpu_throttling", False) == ("self", "latency_anomaly")


def test_joined_signals_stop_unless_they_refine_to_a_cause_playbook():
    joined = {"joined": True, "refined": False, "playbook": "memory_leak"}
    assert routing.route(joined, "pod_crash_loop", False)[0] == "joined"
    refined = dict(joined, refined=True, refined_playbook="disk_pressure")
    assert routing.route(refined, "pod_crash_loop", False) == ("handover", "disk_pressure")
    assert routing.route(refined, "disk_pressure", False) == ("self", "disk_pressure")
    ran = dict(refined, playbooks_ran=["disk_pressure"])
    assert routing.route(ran, "pod_crash_loop", False)[0] == "joined"
    once = dict(refined, handovers=["memory_leak"])
    assert routing.route(once, "pod_crash_loop", False)[0] == "joined"


def test_routed_is_empty_without_a_calling_playbook():
    diagnosis = {"joined": False, "playbook": "memory_leak"}
    assert routing.routed(diagnosis, "", False) == {"route": "", "next_playbook": ""}
    assert routing.routed(diagnosis, "pod_crash_loop", False) == {
        "route": "handover", "next_playbook": "memory_leak"}


class TestDiagnoseAction(BaseActionTestCase):
    """self_healing.diagnose adds the route of the calling playbook to its result."""

    action_cls = Diagnose

    def setUp(self):
        super(TestDiagnoseAction, self).setUp()
        FixedClock(T0 + 1).install()
        self.addCleanup(clock.reset)

    def diagnose(self, **params):
        action = self.get_action_instance(config={"mode": "autonomous"})
        action.facts = FakeFacts(pods={NODE: []}, node_totals={NODE: 4.0 * GB})
        result = action.run(**params)
        jsonschema.Draft4Validator(_output_schema()).validate(result)
        return result

    def test_route_for_the_calling_playbook(self):
        opened = self.diagnose(signal=SIGNAL, playbook="disk_pressure")
        assert opened["playbook"] == "memory_pressure_node"
        assert (opened["route"], opened["next_playbook"]) == ("handover",
                                                              "memory_pressure_node")
        again = self.diagnose(signal=SIGNAL, incident_id=opened["incident_id"],
                              playbook="memory_pressure_node")
        assert (again["route"], again["next_playbook"]) == ("self", "memory_pressure_node")

    def test_no_route_without_a_playbook(self):
        opened = self.diagnose(signal=SIGNAL)
        assert (opened["route"], opened["next_playbook"]) == ("", "")
        joined = self.diagnose(signal=dict(SIGNAL, signal_id=SIGNAL["signal_id"] + "0"),
                               playbook="memory_pressure_node")
        assert joined["joined"] is True and joined["route"] == "joined"


# service_symptom's route and choose_playbook switches before the routing moved into Python,
# verbatim (with their literal cause list): `symptom_route` must give what they gave.
CAUSES = [p for p in LITERAL_TARGETS if p != "cascade_protection"]
_CAUSES = "[" + ", ".join('"%s"' % p for p in CAUSES) + "]"
SYMPTOM_SPENT = (
    '<% not ctx().handed_over and (len(ctx().diagnosis.get(handovers) or []) > 0 or '
    'str(ctx().diagnosis.get(playbook) or "").replace("-", "_") in '
    '(ctx().diagnosis.get(playbooks_ran) or [])) %>')
SYMPTOM_ROUTE = (
    '<% switch(ctx().handover_spent and (ctx().diagnosis.get(joined, false) or '
    'ctx().diagnosis.get(refined, false)) => joined, ctx().diagnosis.get(joined, false) and '
    'not ctx().handed_over and not (ctx().diagnosis.get(refined, false) and '
    'str(ctx().diagnosis.get(refined_playbook, "")) in LIST) => joined, '
    'ctx().diagnosis.get(joined, false) and not ctx().handed_over => handover, '
    'true => self) %>').replace("LIST", _CAUSES)
SYMPTOM_CHOOSE = (
    '<% str(ctx().diagnosis.get(playbook) or "").replace("-", "_") in LIST and '
    'not ctx().handed_over and not ctx().handover_spent %>').replace("LIST", _CAUSES)


def _symptom_yaql(diagnosis, handed_over):
    data = {"diagnosis": diagnosis, "handed_over": handed_over}
    data["handover_spent"] = _evaluate(SYMPTOM_SPENT, data)
    where = _evaluate(SYMPTOM_ROUTE, data)
    if where == "handover":
        return where, str(diagnosis.get("refined_playbook") or "")
    if where == "self" and _evaluate(SYMPTOM_CHOOSE, data):
        return where, str(diagnosis.get("playbook") or "").replace("-", "_")
    return where, ""


def test_symptoms_hand_over_to_the_catalogues_cause_playbooks():
    assert routing.cause_playbooks() == frozenset(CAUSES)
    assert routing.symptom_playbooks() == frozenset({"latency_anomaly", "error_rate"})


@pytest.mark.orquesta
@pytest.mark.parametrize("symptom", ["latency_anomaly", "error_rate"])
def test_symptom_routing_gives_what_the_yaql_switches_gave(symptom):
    checked = set()
    cases = [(d, False) for d in _diagnoses("memory_leak")]
    cases += [(d, True) for d, _ in cases[::11]]
    for diagnosis, handed_over in cases:
        expected = _symptom_yaql(diagnosis, handed_over)
        assert routing.routed(diagnosis, symptom, handed_over) == {
            "route": expected[0], "next_playbook": expected[1]}, diagnosis
        checked.add(expected)
    assert {where for where, _ in checked} == {"self", "joined", "handover"}
    assert ("self", "memory_leak") in checked and ("self", "") in checked


def test_a_joined_symptom_refined_to_a_cause_hands_over_to_it():
    diagnosis = {"joined": True, "refined": True, "refined_playbook": "connection_pool_exhaustion",
                 "playbook": "error-rate", "handovers": [], "playbooks_ran": []}
    assert routing.symptom_route(diagnosis, False) == ("handover", "connection_pool_exhaustion")
    diagnosis["handovers"] = ["connection_pool_exhaustion"]
    assert routing.symptom_route(diagnosis, False) == ("joined", "")


def test_a_symptom_with_nothing_that_explains_it_is_watched_first():
    plain = {"joined": False, "playbook": "latency_anomaly", "playbook_params": {}}
    assert routing.watch_first(plain, "latency_anomaly", False) is True
    assert routing.watch_first(plain, "error_rate", False) is True
    # a deploy before the onset explains it: roll back without waiting
    deployed = dict(plain, playbook_params={"recent_deploy": True})
    assert routing.watch_first(deployed, "error_rate", False) is False
    # a cause playbook to hand over to explains it
    caused = dict(plain, playbook="memory_leak")
    assert routing.watch_first(caused, "error_rate", False) is False
    # a run handed the incident, a joined signal and cause playbooks never watch first
    assert routing.watch_first(plain, "error_rate", True) is False
    assert routing.watch_first(dict(plain, joined=True), "error_rate", False) is False
    assert routing.watch_first(plain, "memory_leak", False) is False
    assert routing.watch_first(plain, "", False) is False

"""ChatOps aliases: every example command matches exactly one format string of its alias (and
no other alias), and extracts the right parameters for an action that accepts them."""
import glob
import os

import yaml
from st2common.exceptions.content import ParseException
from st2common.models.utils.action_alias_utils import extract_parameters
from st2tests.base import BaseActionAliasTestCase

PACK_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
INC = "inc-20261128-031722-ab12"
INQ = "5f1e2d3c4b5a69788766aa01"

# alias name -> [(command, format string, parameters)]
EXAMPLES = {
    "heal_status": [("heal status", "heal status", {})],
    "heal_incidents": [
        ("heal incidents", "heal incidents", {}),
        ("heal incidents status escalated", "heal incidents status {{status}}",
         {"status": "escalated"}),
        ("heal incidents last 7 days", "heal incidents last {{days}} days", {"days": "7"}),
        ("heal incidents status open limit=5", "heal incidents status {{status}}",
         {"status": "open", "limit": "5"}),
    ],
    "heal_show_incident": [("heal show %s" % INC, "heal show {{incident_id}}",
                            {"incident_id": INC})],
    "heal_run_playbook": [
        ("heal run memory_pressure_node on node gke-prod-pool-1-abc123",
         "heal run {{playbook}} on node {{name}}",
         {"playbook": "memory_pressure_node", "name": "gke-prod-pool-1-abc123"}),
        ("heal run pod_crash_loop on pod production/analytics-worker-7f8d9",
         "heal run {{playbook}} on {{kind}} {{namespace}}/{{name}}",
         {"playbook": "pod_crash_loop", "kind": "pod", "namespace": "production",
          "name": "analytics-worker-7f8d9"}),
        ("heal run memory_pressure_node on node gke-prod-pool-1-abc123 dry_run=false",
         "heal run {{playbook}} on node {{name}}",
         {"playbook": "memory_pressure_node", "name": "gke-prod-pool-1-abc123",
          "dry_run": "false"}),
    ],
    "heal_approve": [("heal approve %s" % INC, "heal approve {{incident_id}}",
                      {"incident_id": INC})],
    "heal_deny": [
        ("heal deny %s" % INC, "heal deny {{incident_id}} {{comment=no reason given}}",
         {"incident_id": INC, "comment": "no reason given"}),
        ("heal deny %s too risky now" % INC,
         "heal deny {{incident_id}} {{comment=no reason given}}",
         {"incident_id": INC, "comment": "too risky now"}),
    ],
    "heal_inquiry_approve": [("heal inquiry %s approve" % INQ,
                              "heal inquiry {{inquiry_id}} approve", {"inquiry_id": INQ})],
    "heal_inquiry_deny": [
        ("heal inquiry %s deny" % INQ,
         "heal inquiry {{inquiry_id}} deny {{comment=no reason given}}",
         {"inquiry_id": INQ, "comment": "no reason given"}),
        ("heal inquiry %s deny not now" % INQ,
         "heal inquiry {{inquiry_id}} deny {{comment=no reason given}}",
         {"inquiry_id": INQ, "comment": "not now"}),
    ],
    "heal_pause": [
        ("heal pause", "heal pause {{reason=paused from chat}}",
         {"reason": "paused from chat"}),
        ("heal pause release freeze until monday", "heal pause {{reason=paused from chat}}",
         {"reason": "release freeze until monday"}),
    ],
    "heal_resume": [("heal resume", "heal resume", {})],
    "heal_shadow_report": [
        ("heal shadow report", "heal shadow report", {}),
        ("heal shadow report last 48 hours", "heal shadow report last {{hours}} hours",
         {"hours": "48"}),
    ],
    "heal_false_positive": [
        ("heal false positive %s" % INC,
         "heal false positive {{incident_id}} {{reason=marked from chat}}",
         {"incident_id": INC, "reason": "marked from chat"}),
        ("heal false positive %s batch job, expected spike" % INC,
         "heal false positive {{incident_id}} {{reason=marked from chat}}",
         {"incident_id": INC, "reason": "batch job, expected spike"}),
    ],
    "heal_effectiveness": [
        ("heal effectiveness", "heal effectiveness", {}),
        ("heal effectiveness last 7 days", "heal effectiveness last {{days}} days",
         {"days": "7"}),
    ],
}


def load_aliases():
    aliases = {}
    for path in sorted(glob.glob(os.path.join(PACK_DIR, "aliases", "*.yaml"))):
        with open(path) as handle:
            data = yaml.safe_load(handle)
        aliases[data["name"]] = data
    return aliases


def format_strings(alias):
    found = []
    for fmt in alias.get("formats") or []:
        found.extend(fmt["representation"] if isinstance(fmt, dict) else [fmt])
    return found


def matches(format_string, command):
    try:
        extract_parameters(format_str=format_string, param_stream=command)
    except ParseException:
        return False
    return True


class AliasCase(BaseActionAliasTestCase):
    """Runs the examples of `action_alias_name` through StackStorm's alias parser."""

    __test__ = False

    def _get_base_pack_path(self):
        return PACK_DIR

    def test_examples_match_one_format_and_extract_parameters(self):
        strings = self.action_alias_db.get_format_strings()
        for command, format_string, parameters in EXAMPLES[self.action_alias_name]:
            self.assertCommandMatchesExactlyOneFormatString(strings, command)
            self.assertExtractedParametersMatch(format_string, command, parameters)

    def test_every_format_has_an_example(self):
        used = {fmt for _, fmt, _ in EXAMPLES[self.action_alias_name]}
        self.assertEqual(set(self.action_alias_db.get_format_strings()), used)


def _case(alias_name):
    return type("Test_" + alias_name, (AliasCase,),
                {"__test__": True, "action_alias_name": alias_name})


for _name in EXAMPLES:
    globals()["Test_" + _name] = _case(_name)


def test_every_alias_has_examples():
    assert sorted(load_aliases()) == sorted(EXAMPLES)


def test_no_example_matches_another_alias():
    aliases = load_aliases()
    for name, examples in EXAMPLES.items():
        for command, _, _ in examples:
            hits = [other for other, alias in aliases.items()
                    if any(matches(fmt, command) for fmt in format_strings(alias))]
            assert hits == [name], (command, hits)


def test_parameters_exist_on_the_aliased_action():
    for name, alias in load_aliases().items():
        ref = alias["action_ref"]
        assert ref.startswith("self_healing.")
        with open(os.path.join(PACK_DIR, "actions", ref.split(".", 1)[1] + ".yaml")) as handle:
            params = yaml.safe_load(handle).get("parameters") or {}
        given = set(alias.get("immutable_parameters") or {})
        for _, _, extracted in EXAMPLES[name]:
            given |= set(extracted)
        assert given <= set(params), (name, sorted(given - set(params)))
        required = {p for p, spec in params.items() if spec.get("required")}
        for _, _, extracted in EXAMPLES[name]:
            supplied = set(extracted) | set(alias.get("immutable_parameters") or {})
            assert required <= supplied, (name, sorted(required - supplied))


# an answer to an approval is one message (the result naming who answered), no ack before it
ONE_MESSAGE = {"heal_approve", "heal_deny", "heal_inquiry_approve", "heal_inquiry_deny"}


def test_ack_and_result_formats_are_enabled_and_readable():
    for name, alias in load_aliases().items():
        assert alias["enabled"] is True and alias["pack"] == "self_healing"
        assert alias["ack"]["enabled"] is (name not in ONE_MESSAGE), name
        assert alias["ack"]["format"].strip()
        assert alias["result"]["enabled"] and "execution" in alias["result"]["format"]
        assert "`" * 3 not in alias["result"]["format"], name  # reports carry their own block

"""Every metadata file through StackStorm's own API models, as st2's registrars validate them:
ActionAPI (plus the runner-parameter override rules), RuleAPI, SensorTypeAPI and each of its
TriggerTypeAPI, ActionAliasAPI and PolicyAPI (its parameters against st2's policy types)."""
import pytest

pytest.importorskip("st2common.models.api.action",
                    reason="needs genuine StackStorm st2common (run `make test-st2`)")

from unittest import mock  # noqa: E402

from genuine_pack import (PACK_REF, load, metadata_files, policy_type_metadata,  # noqa: E402
                          runner_parameters)
from st2common.constants.triggers import INTERNAL_TRIGGER_TYPES, SYSTEM_TRIGGER_TYPES  # noqa
from st2common.exceptions.apivalidation import ValueValidationException  # noqa: E402
from st2common.models.api.action import ActionAliasAPI, ActionAPI  # noqa: E402
from st2common.models.api.policy import PolicyAPI, PolicyTypeAPI  # noqa: E402
from st2common.models.api.rule import RuleAPI  # noqa: E402
from st2common.models.api.sensor import SensorTypeAPI  # noqa: E402
from st2common.models.api.trigger import TriggerTypeAPI  # noqa: E402
from st2common.models.system.common import ResourceReference  # noqa: E402
from st2common.validators.api import action as action_validator  # noqa: E402

pytestmark = pytest.mark.genuine

RUNNERS = runner_parameters()


def _policy_types():
    types = {}
    for _name, meta in policy_type_metadata():
        model = PolicyTypeAPI.to_model(PolicyTypeAPI(**meta))
        types[model.ref] = model
    return types


POLICY_TYPES = _policy_types()


def _trigger_refs():
    """The pack's trigger types and st2's built-in ones (internal, webhook, timers)."""
    refs = set(SYSTEM_TRIGGER_TYPES)
    for triggers in INTERNAL_TRIGGER_TYPES.values():
        refs.update(ResourceReference.to_string_reference(t["pack"], t["name"])
                    for t in triggers)
    for rel in metadata_files("sensors"):
        for trigger in load(rel).get("trigger_types") or []:
            refs.add(ResourceReference.to_string_reference(PACK_REF, trigger["name"]))
    return refs


TRIGGER_REFS = _trigger_refs()


def validate_action(content):
    """ActionAPI.validate() and st2's parameter rules against the action's runner."""
    api = ActionAPI(**content)
    api.validate()
    assert api.runner_type in RUNNERS, "unknown runner %r" % api.runner_type
    ref = ResourceReference.to_string_reference(pack=api.pack, name=api.name)
    action_validator._validate_parameters(ref, api.parameters or {}, RUNNERS[api.runner_type])


def validate_policy(content):
    with mock.patch("st2common.models.api.policy.PolicyType.get_by_ref",
                    side_effect=POLICY_TYPES.get):
        return PolicyAPI(**content).validate()


def test_every_kind_has_metadata_and_st2_definitions_loaded():
    for kind in ("actions", "rules", "sensors", "aliases", "policies"):
        assert metadata_files(kind), kind
    assert {"python-script", "orquesta", "noop", "inquirer"} <= set(RUNNERS)
    assert {"action.concurrency", "action.concurrency.attr", "action.retry"} <= set(POLICY_TYPES)


@pytest.mark.parametrize("rel", metadata_files("actions"))
def test_action(rel):
    validate_action(load(rel))


@pytest.mark.parametrize("rel", metadata_files("rules"))
def test_rule(rel):
    content = load(rel)
    api = RuleAPI(**content)
    api.validate()
    trigger = content["trigger"]["type"]
    assert trigger in TRIGGER_REFS, "%s: unknown trigger type %s" % (rel, trigger)


@pytest.mark.parametrize("rel", metadata_files("sensors"))
def test_sensor_and_its_trigger_types(rel):
    content = load(rel)
    SensorTypeAPI(**content).validate()
    assert content.get("trigger_types"), "%s declares no trigger types" % rel
    for trigger in content["trigger_types"]:
        TriggerTypeAPI(**dict(trigger, pack=PACK_REF)).validate()


@pytest.mark.parametrize("rel", metadata_files("aliases"))
def test_alias(rel):
    ActionAliasAPI(**load(rel)).validate()


@pytest.mark.parametrize("rel", metadata_files("policies"))
def test_policy(rel):
    cleaned = validate_policy(load(rel))
    assert cleaned.policy_type in POLICY_TYPES


# The same validators reject what StackStorm rejects (so the checks above can fail).
def test_validators_reject_broken_metadata():
    action = load("actions/restart_pod.yaml")
    with pytest.raises(Exception, match="strang"):
        validate_action(dict(action, parameters={"x": {"type": "strang"}}))
    with pytest.raises(ValueValidationException, match="x requires a default value"):
        validate_action(dict(action, parameters={"x": {"type": "string", "immutable": True}}))
    with pytest.raises(ValueValidationException, match="same position"):
        validate_action(dict(action, parameters={"a": {"type": "string", "position": 0},
                                                 "b": {"type": "string", "position": 0}}))
    with pytest.raises(Exception, match="runner_type"):
        ActionAPI(**{k: v for k, v in action.items() if k != "runner_type"}).validate()
    policy = load(metadata_files("policies")[0])
    with pytest.raises(ValueError, match="doesnt exist"):
        validate_policy(dict(policy, policy_type="action.nonesuch"))
    with pytest.raises(Exception, match="threshold"):
        validate_policy(dict(policy, parameters={"threshold": "one"}))
    alias = load("aliases/heal_status.yaml")
    with pytest.raises(Exception, match="action_ref"):
        ActionAliasAPI(**{k: v for k, v in alias.items() if k != "action_ref"}).validate()
    rule = load(metadata_files("rules")[0])
    with pytest.raises(Exception, match="action"):
        RuleAPI(**{k: v for k, v in rule.items() if k != "action"}).validate()

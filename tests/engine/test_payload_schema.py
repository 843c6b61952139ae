"""Trigger payload schemas in StackStorm's dialect still reject what they should."""
import jsonschema
import pytest
import yaml

from engine.payload_schema import st2_payload_validator

SCHEMA = {"type": "object", "properties": {
    "detector": {"type": "string", "required": True},
    "target": {"type": "object", "required": True,
               "properties": {"name": {"type": "string", "required": True}}},
    "note": {"type": "string"}}}


def test_a_property_marked_required_must_be_present_at_every_level():
    validator = st2_payload_validator()(SCHEMA)
    validator.validate({"detector": "crash_loop", "target": {"name": "p"}})
    with pytest.raises(jsonschema.ValidationError, match="'target' is a required property"):
        validator.validate({"detector": "crash_loop"})
    with pytest.raises(jsonschema.ValidationError, match="'name' is a required property"):
        validator.validate({"detector": "crash_loop", "target": {}})


def test_draft4_required_lists_still_apply_and_types_are_checked():
    validator = st2_payload_validator()({"type": "object", "required": ["a"],
                                         "properties": {"a": {"type": "integer"}}})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"a": "x"})


def test_the_packs_trigger_schemas_reject_a_payload_without_target():
    with open("sensors/detector_sensor.yaml") as handle:
        meta = yaml.safe_load(handle)
    schema = [t for t in meta["trigger_types"] if t["name"] == "crash_loop"][0]["payload_schema"]
    with pytest.raises(jsonschema.ValidationError, match="target"):
        st2_payload_validator()(schema).validate({"detector": "crash_loop"})

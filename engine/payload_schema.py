"""Trigger payload schemas as StackStorm reads them: draft 4 plus `required: true` written
inside a property (its draft-3 style), instead of a draft-4 `required` list."""
from typing import Any, List


_VALIDATOR: List[Any] = []


def st2_payload_validator() -> Any:
    """Draft 4 with StackStorm's dialect: `required: true` written inside a property."""
    if not _VALIDATOR:
        import jsonschema
        from jsonschema import validators

        draft4 = jsonschema.Draft4Validator

        def properties(validator: Any, props: Any, instance: Any, schema: Any) -> Any:
            for error in draft4.VALIDATORS["properties"](validator, props, instance, schema):
                yield error
            if validator.is_type(instance, "object"):
                for name, sub in props.items():
                    if isinstance(sub, dict) and sub.get("required") is True and \
                            name not in instance:
                        yield jsonschema.ValidationError("%r is a required property" % name)

        def required(validator: Any, names: Any, instance: Any, schema: Any) -> Any:
            if isinstance(names, bool):
                return
            for error in draft4.VALIDATORS["required"](validator, names, instance, schema):
                yield error

        _VALIDATOR.append(validators.extend(draft4, {"properties": properties,
                                                     "required": required}))
    return _VALIDATOR[0]

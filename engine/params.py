"""Action parameters as StackStorm treats them: defaults, casting, validation."""
import ast
import json
from typing import Any, Callable, Dict, Optional

RUNNER_PARAMETERS = {
    "python-script": {"env", "timeout", "debug", "log_level"},
    "orquesta": {"notify"},
    "local-shell-cmd": {"cmd", "cwd", "env", "sudo", "sudo_password", "timeout", "kwarg_op"},
    "noop": set(),
    "inquirer": {"schema", "ttl", "users", "roles", "route"},
    "announcement": {"experimental", "route"},
}

_TYPES = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict,),
    "null": (type(None),),
}


class ParameterError(ValueError):
    """A parameter is missing, unknown or of the wrong type/value."""


def cast(value: Any, type_name: Optional[str]) -> Any:
    """Cast a rendered string to the declared type, as StackStorm does for rendered params."""
    if not isinstance(value, str) or type_name in (None, "string"):
        return value
    text = value.strip()
    try:
        if type_name == "integer":
            return int(text)
        if type_name == "number":
            return float(text) if any(c in text for c in ".eE") else int(text)
        if type_name == "boolean":
            lowered = text.lower()
            if lowered in ("true", "1", "yes", "on"):
                return True
            if lowered in ("false", "0", "no", "off", ""):
                return False
            return value
        if type_name in ("array", "object"):
            try:
                return json.loads(text)
            except ValueError:
                return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return value
    return value


def type_ok(value: Any, spec: Dict[str, Any]) -> bool:
    """True when `value` fits the declared type(s)."""
    declared = spec.get("type")
    if declared is None:
        return True
    names = declared if isinstance(declared, list) else [declared]
    for name in names:
        kinds = _TYPES.get(name, (object,))
        if name in ("integer", "number") and isinstance(value, bool):
            continue
        if isinstance(value, kinds):
            return True
    return False


def prepare(parameters_schema: Dict[str, Any], given: Dict[str, Any], runner_type: str,
            render_default: Optional[Callable[[Any], Any]] = None) -> Dict[str, Any]:
    """Validated parameters with defaults applied; raises ParameterError."""
    given = dict(given or {})
    allowed = set(parameters_schema) | RUNNER_PARAMETERS.get(runner_type, set())
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise ParameterError("Additional properties are not allowed (%s were unexpected)"
                             % ", ".join(repr(name) for name in unknown))
    result: Dict[str, Any] = {}
    for name, spec in parameters_schema.items():
        spec = spec or {}
        if name in given:
            value = cast(given[name], spec.get("type"))
        elif "default" in spec:
            value = spec["default"]
            if render_default is not None:
                value = cast(render_default(value), spec.get("type"))
        else:
            if spec.get("required"):
                raise ParameterError("'%s' is a required property" % name)
            continue
        if spec.get("immutable") and name in given and given[name] != spec.get("default"):
            raise ParameterError("'%s' is immutable" % name)
        if value is None and not spec.get("required"):
            result[name] = value
            continue
        if not type_ok(value, spec):
            raise ParameterError("%s: %r is not of type %r" % (name, value, spec.get("type")))
        if "enum" in spec and value not in spec["enum"]:
            raise ParameterError("%s: %r is not one of %r" % (name, value, spec["enum"]))
        for bound, check in (("minimum", lambda v, b: v >= b), ("maximum", lambda v, b: v <= b)):
            if bound in spec and isinstance(value, (int, float)) and not check(value, spec[bound]):
                raise ParameterError("%s: %r violates %s %r" % (name, value, bound, spec[bound]))
        result[name] = value
    for name in RUNNER_PARAMETERS.get(runner_type, set()):
        if name in given and name not in result:
            result[name] = given[name]
    return result

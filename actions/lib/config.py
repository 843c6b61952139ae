"""Pack configuration: defaults from config.schema.yaml, validation, a frozen Settings view.

`load_settings(pack_config)` is the only entry point: it fills every default declared in the
pack's `config.schema.yaml` (the single source of defaults), validates types, enums, ranges and
patterns, and raises `ConfigError` naming the key path (`"budgets.max_cordoned_nodes: ..."`).
"""
import copy
import datetime
import os
import re
import collections.abc
from typing import Any, Dict, Iterator, List, Mapping, Optional

import yaml

from lib import catalogue, clock

SCHEMA_PATH = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                            os.pardir, os.pardir, "config.schema.yaml"))

RISK_LEVELS = ("none", "low", "medium", "high")
MODES = ("observe", "dry_run", "autonomous")
DETECTORS = catalogue.DETECTOR_NAMES

# Environment variables (e.g. set on the StackStorm pods by the chart's `env`), used when the pack
# config does not set the key itself: explicit config > environment > schema default.
ENV_OVERRIDES = (
    ("PROMETHEUS_URL", ("prometheus", "url")),
    ("NATS_URL", ("nats", "url")),
    ("MAX_AUTONOMOUS_RISK", ("max_autonomous_risk",)),
    ("ESCALATION_CHANNEL", ("escalation_channel",)),
)

_DURATION_RE = re.compile(r"^([0-9]+)([smhd])$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

_schema_cache: Dict[str, Any] = {}


class ConfigError(ValueError):
    """A pack config value is missing, of the wrong type or out of range."""


def load_schema(path: str = SCHEMA_PATH) -> Dict[str, Any]:
    """The pack's config.schema.yaml as a dict (cached per path)."""
    if path not in _schema_cache:
        with open(path, "r", encoding="utf-8") as handle:
            _schema_cache[path] = yaml.safe_load(handle) or {}
    return copy.deepcopy(_schema_cache[path])


def defaults(schema: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Every default declared in the schema, as a plain nested dict."""
    top = schema if schema is not None else load_schema()
    return _fill({}, {"type": "object", "properties": top}, "")


def parse_duration(value: str) -> int:
    """A PromQL-style duration ("90s", "10m", "1h", "2d") in seconds."""
    match = _DURATION_RE.match(str(value).strip())
    if not match:
        raise ValueError("not a duration like 10m/1h: %r" % (value,))
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]


def risk_rank(risk: str) -> int:
    """Position of a risk level (none=0 .. high=3); unknown raises ValueError."""
    if risk not in RISK_LEVELS:
        raise ValueError("unknown risk level: %r" % (risk,))
    return RISK_LEVELS.index(risk)


class FrozenMapping(collections.abc.Mapping):
    """Read-only mapping that also allows attribute access (`m.key` == `m["key"]`)."""

    def __init__(self, data: Dict[str, Any]) -> None:
        object.__setattr__(self, "_data", {k: _freeze(v) for k, v in data.items()})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("settings are read-only")

    def __repr__(self) -> str:
        return "%s(%r)" % (type(self).__name__, self.to_dict())

    def to_dict(self) -> Dict[str, Any]:
        """A mutable deep copy as plain dicts and lists."""
        return {k: _thaw(v) for k, v in self._data.items()}


class Settings(FrozenMapping):
    """The validated pack configuration with every default applied."""

    def detector(self, name: str) -> FrozenMapping:
        """Settings of one detector (`enabled` and its thresholds)."""
        if name not in self._data["detectors"]:
            raise ConfigError("detectors.%s: unknown detector" % name)
        return self._data["detectors"][name]

    def detector_enabled(self, name: str) -> bool:
        """True when the detector is switched on."""
        return bool(self.detector(name)["enabled"])

    def max_risk_for(self, playbook: str) -> str:
        """Maximum autonomous risk for a playbook (override, else max_autonomous_risk)."""
        overrides = self._data["playbook_risk_overrides"]
        for key in (playbook, playbook.replace("-", "_"), playbook.replace("_", "-")):
            if key in overrides:
                return overrides[key]
        return self._data["max_autonomous_risk"]

    def is_protected_namespace(self, namespace: str) -> bool:
        """True for namespaces the healer never mutates."""
        return namespace in self._data["protected_namespaces"]

    def upstreams_of(self, service: str) -> List[str]:
        """Services that `service` calls, from the dependency map."""
        return list(self._data["dependencies"].get(service, ()))

    def dependents_of(self, service: str) -> List[str]:
        """Services that call `service`, from the dependency map (sorted)."""
        return sorted(s for s, ups in self._data["dependencies"].items() if service in ups)


def load_settings(pack_config: Optional[Dict[str, Any]],
                  environ: Optional[Mapping[str, str]] = None,
                  schema: Optional[Dict[str, Any]] = None) -> Settings:
    """Validate a pack config (may be None or partial) and return Settings with defaults.

    `environ` defaults to os.environ; pass `{}` to ignore the environment.
    """
    if pack_config is None:
        pack_config = {}
    if not isinstance(pack_config, collections.abc.Mapping):
        raise ConfigError("config: must be an object, got %s" % type(pack_config).__name__)
    top = schema if schema is not None else load_schema()
    config = copy.deepcopy(dict(pack_config))
    _apply_environment(config, os.environ if environ is None else environ)
    root = {"type": "object", "properties": top, "additionalProperties": False}
    _validate(config, root, "")
    merged = _fill(config, root, "")
    _check_semantics(merged)
    _check_metric_sources(merged)
    if merged["healer_namespace"] not in merged["protected_namespaces"]:
        merged["protected_namespaces"].append(merged["healer_namespace"])
    return Settings(merged)


def _apply_environment(config: Dict[str, Any], environ: Mapping[str, str]) -> None:
    for variable, path in ENV_OVERRIDES:
        value = environ.get(variable)
        if not value:
            continue
        node = config
        for part in path[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                break
            node = child
        else:
            node.setdefault(path[-1], value)


def _join(path: str, key: str) -> str:
    return key if not path else "%s.%s" % (path, key)


def _type_name(schema_type: str) -> str:
    return {"integer": "an integer", "number": "a number", "boolean": "a boolean",
            "string": "a string", "array": "a list", "object": "an object"}.get(
                schema_type, schema_type)


def _is_type(value: Any, schema_type: str) -> bool:
    if schema_type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if schema_type == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if schema_type == "boolean":
        return isinstance(value, bool)
    if schema_type == "string":
        return isinstance(value, str)
    if schema_type == "array":
        return isinstance(value, list)
    if schema_type == "object":
        return isinstance(value, dict)
    return True


def _range_text(schema: Dict[str, Any]) -> str:
    parts = []
    if "minimum" in schema:
        parts.append(">= %s" % schema["minimum"])
    if "maximum" in schema:
        parts.append("<= %s" % schema["maximum"])
    return (" " + " and ".join(parts)) if parts else ""


def _validate(value: Any, schema: Dict[str, Any], path: str) -> Any:
    """Check `value` against a (draft-4 subset + property-level required) schema in place."""
    schema_type = schema.get("type")
    if schema_type and not _is_type(value, schema_type):
        raise ConfigError("%s: must be %s%s, got %r" % (
            path or "config", _type_name(schema_type), _range_text(schema), value))
    if "enum" in schema and value not in schema["enum"]:
        raise ConfigError("%s: must be one of %s, got %r" % (
            path, ", ".join(str(e) for e in schema["enum"]), value))
    if schema_type in ("integer", "number"):
        if ("minimum" in schema and value < schema["minimum"]) or \
                ("maximum" in schema and value > schema["maximum"]):
            raise ConfigError("%s: must be %s%s, got %r" % (
                path, _type_name(schema_type), _range_text(schema), value))
    if schema_type == "string":
        if len(value) < schema.get("minLength", 0):
            raise ConfigError("%s: must not be empty" % path)
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise ConfigError("%s: %r does not match %s" % (path, value, schema["pattern"]))
    if schema_type == "array" and "items" in schema:
        for index, item in enumerate(value):
            value[index] = _string_if_date(item, schema["items"])
            _validate(value[index], schema["items"], "%s[%d]" % (path, index))
    if schema_type == "object":
        _validate_object(value, schema, path)
    return value


def _validate_object(value: Dict[str, Any], schema: Dict[str, Any], path: str) -> None:
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key in list(value):
        if not isinstance(key, str):
            raise ConfigError("%s: keys must be strings, got %r" % (path or "config", key))
        sub_path = _join(path, key)
        if key in properties:
            sub_schema = properties[key]
        elif extra is False:
            raise ConfigError("%s: unknown key (allowed: %s)" % (
                sub_path, ", ".join(sorted(properties))))
        elif isinstance(extra, dict):
            sub_schema = extra
        else:
            continue
        value[key] = _string_if_date(value[key], sub_schema)
        _validate(value[key], sub_schema, sub_path)
    for key, sub_schema in properties.items():
        if sub_schema.get("required") is True and key not in value:
            raise ConfigError("%s: is required" % _join(path, key))


def _string_if_date(value: Any, schema: Dict[str, Any]) -> Any:
    """YAML turns unquoted timestamps into datetimes; string fields take them back as ISO."""
    if schema.get("type") == "string" and isinstance(value, (datetime.date, datetime.datetime)):
        if isinstance(value, datetime.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.isoformat()
    return value


def _fill(value: Any, schema: Dict[str, Any], path: str) -> Any:
    """Return a copy of `value` with schema defaults filled in (recursively for objects)."""
    if schema.get("type") == "object" and isinstance(value, dict):
        result = dict(value)
        for key, sub_schema in schema.get("properties", {}).items():
            if key in result:
                result[key] = _fill(result[key], sub_schema, _join(path, key))
            elif "default" in sub_schema:
                result[key] = _fill(copy.deepcopy(sub_schema["default"]), sub_schema,
                                    _join(path, key))
            elif sub_schema.get("type") == "object" and "properties" in sub_schema:
                result[key] = _fill({}, sub_schema, _join(path, key))
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key in result:
                if key not in schema.get("properties", {}):
                    result[key] = _fill(result[key], extra, _join(path, key))
        return result
    if schema.get("type") == "array" and isinstance(value, list) and "items" in schema:
        return [_fill(item, schema["items"], "%s[%d]" % (path, i)) for i, item in enumerate(value)]
    return value


def _check_semantics(config: Dict[str, Any]) -> None:
    """Checks a JSON schema cannot express: durations parse, freeze windows are ordered."""
    for name, detector in config["detectors"].items():
        for key, value in detector.items():
            if key == "window" or key.endswith("_window"):
                try:
                    parse_duration(value)
                except ValueError as error:
                    raise ConfigError("detectors.%s.%s: %s" % (name, key, error)) from None
    for index, window in enumerate(config["change_freeze"]):
        times = {}
        for key in ("start", "end"):
            try:
                times[key] = clock.parse_iso(window[key])
            except ValueError:
                raise ConfigError("change_freeze[%d].%s: not an ISO 8601 time: %r" % (
                    index, key, window[key])) from None
        if times["end"] <= times["start"]:
            raise ConfigError("change_freeze[%d].end: must be after start" % index)


# ------------------------------------------------------------------ metric sources
def _check_metric_sources(config: Dict[str, Any]) -> None:
    """The metric presets and their overrides render (lib.metric_presets); errors name the key."""
    from lib import metric_presets

    try:
        metric_presets.resolve(config.get("metric_sources"))
    except metric_presets.PresetError as error:
        raise ConfigError(str(error)) from None


def _freeze(value: Any) -> Any:
    if isinstance(value, FrozenMapping):
        return value
    if isinstance(value, dict):
        return FrozenMapping(value)
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, FrozenMapping):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value

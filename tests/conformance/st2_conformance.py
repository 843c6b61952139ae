"""StackStorm conformance checks for a pack directory, applied the way StackStorm applies them.

Every `check_*` function takes a `Pack` (and usually one file) and returns a list of problems,
each a string starting with the file's path relative to the pack. An empty list means the file
conforms. The tests run them over this repository and over broken fixture packs.

What genuine StackStorm code decides is checked with that code on the genuine track
(tests/genuine: ActionAPI/RuleAPI/SensorTypeAPI/TriggerTypeAPI/ActionAliasAPI/PolicyAPI,
st2-validate-pack, st2-validate-pack-config, orquesta 1.6.0); what remains here is what those do
not check (cross-references, entry points, workflow inputs, lint) and what the Python 3.11 track
has no orquesta for (workflow syntax). Meta-schemas (parameters, payload schemas, orquesta) come
from `<repo>/../shared/st2-schemas`; `ST2_SCHEMAS_DIR` overrides the location. They are applied
like st2common's CustomValidator: draft-4 keywords, `required: true` inside a property (draft-3
style), `$ref: "#"` resolving to the custom draft-4 meta-schema.
"""
import ast
import functools
import glob
import json
import os
import re
import subprocess
import sys
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

import jsonschema
import yaml
from jsonschema import Draft4Validator, validators
from jsonschema.exceptions import ValidationError

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DRAFT4_URI = "http://json-schema.org/draft-04/schema"

# Runner parameters every action of that runner also accepts (StackStorm's runner.yaml files).
RUNNER_PARAMETERS = {
    "python-script": ["content_version", "debug", "env", "log_level", "timeout"],
    "orquesta": ["notify"],
    "noop": [],
    "inquirer": ["roles", "route", "schema", "ttl", "users"],
    "local-shell-cmd": ["cmd", "cwd", "env", "kwarg_op", "sudo", "sudo_password", "timeout"],
    "local-shell-script": ["cwd", "env", "kwarg_op", "sudo", "sudo_password", "timeout"],
    "http-request": ["allow_redirects", "auth", "body", "cookies", "headers", "http_proxy",
                     "https_proxy", "method", "params", "password", "timeout", "url",
                     "url_hosts_blacklist", "url_hosts_whitelist", "username",
                     "verify_ssl_cert"],
}

# Built-in actions of a StackStorm install (packs core and chatops): parameters and the
# required ones, from their metadata merged with their runner's parameters.
BUILTIN_ACTIONS = {
    "core.announcement": (["message", "route"], []),
    "core.ask": (["roles", "route", "schema", "ttl", "users"], []),
    "core.echo": (["cwd", "env", "message", "timeout"], ["message"]),
    "core.error": (["cwd", "env", "message", "timeout"], ["message"]),
    "core.http": (["allow_redirects", "auth", "body", "cookies", "file_content",
                   "file_content_type", "file_name", "file_path", "headers", "http_proxy",
                   "https_proxy", "method", "params", "password", "timeout", "url",
                   "url_hosts_blacklist", "url_hosts_whitelist", "username", "verify_ssl_cert"],
                  ["url"]),
    "core.inject_trigger": (["content_version", "debug", "env", "log_level", "payload", "timeout",
                             "trace_tag", "trigger", "trigger_name"], []),
    "core.local": (["cmd", "cwd", "env", "kwarg_op", "sudo_password", "timeout"], ["cmd"]),
    "core.local_sudo": (["cmd", "cwd", "env", "kwarg_op", "sudo_password", "timeout"], ["cmd"]),
    "core.noop": ([], []),
    "core.pause": (["content_version", "debug", "env", "log_level", "max_pause", "random",
                    "timeout"], ["max_pause"]),
    "core.remote": (["bastion_host", "cmd", "cwd", "env", "hosts", "kwarg_op", "passphrase",
                     "password", "port", "private_key", "sudo_password", "timeout", "username"],
                    ["cmd", "hosts"]),
    "core.sendmail": (["attachments", "body", "content_type", "content_version", "cwd", "debug",
                       "env", "from", "kwarg_op", "send_empty_body", "sendmail_binary",
                       "subject", "sudo_password", "timeout", "to"], ["body", "subject", "to"]),
    "core.uuid": (["content_version", "debug", "env", "log_level", "timeout", "uuid_type"], []),
    "chatops.format_execution_result": (["content_version", "debug", "env", "execution_id",
                                         "log_level", "timeout"], ["execution_id"]),
    "chatops.match": (["content_version", "debug", "env", "log_level", "text", "timeout"],
                      ["text"]),
    "chatops.post_message": (["channel", "context", "extra", "message", "route", "user",
                              "whisper"], ["channel", "message"]),
    "chatops.post_result": (["channel", "context", "execution_id", "notify", "route", "user",
                             "whisper"], ["channel", "execution_id"]),
    "chatops.run": (["channel", "text", "user", "whisper"], ["channel", "text"]),
}

# Built-in trigger types (st2common constants/triggers.py).
BUILTIN_TRIGGERS = {
    "core.st2.generic.actiontrigger", "core.st2.action.file_written",
    "core.st2.generic.notifytrigger", "core.st2.generic.inquiry",
    "core.st2.sensor.process_spawn", "core.st2.sensor.process_exit",
    "core.st2.key_value_pair.create", "core.st2.key_value_pair.update",
    "core.st2.key_value_pair.value_change", "core.st2.key_value_pair.delete",
    "core.st2.webhook", "core.st2.IntervalTimer", "core.st2.DateTimer", "core.st2.CronTimer",
}

POLICY_TYPES = {"action.concurrency", "action.concurrency.attr", "action.retry"}
RESOURCE_KINDS = ("actions", "rules", "sensors", "aliases", "policies")
SENSOR_BASES = {"PollingSensor", "Sensor"}


class SchemasMissing(RuntimeError):
    """The StackStorm schema directory is not where the tests expect it."""


def schemas_dir() -> str:
    """Directory of StackStorm's JSON schemas; raises SchemasMissing with advice when absent."""
    path = os.environ.get("ST2_SCHEMAS_DIR") or os.path.join(
        os.path.dirname(REPO_ROOT), "shared", "st2-schemas")
    path = os.path.abspath(path)
    if not os.path.isfile(os.path.join(path, "action.json")):
        raise SchemasMissing(
            "StackStorm schemas not found at %s: the conformance tests need the shared "
            "directory beside the repository (../shared/st2-schemas with action.json, "
            "rule.json, ..., util-schema/) or ST2_SCHEMAS_DIR pointing at it." % path)
    return path


@functools.lru_cache(maxsize=None)
def load_schema(name: str) -> Dict[str, Any]:
    """A schema file (cached: callers must not modify it)."""
    with open(os.path.join(schemas_dir(), name)) as handle:
        return json.load(handle)


def _properties_with_required(validator, properties, instance, schema):
    """Draft-4 `properties` plus draft-3 `required: true` written inside a property."""
    if not validator.is_type(instance, "object"):
        return
    for name, subschema in properties.items():
        if name in instance:
            for error in validator.descend(instance[name], subschema, path=name,
                                           schema_path=name):
                yield error
        elif isinstance(subschema, dict) and subschema.get("required") is True:
            yield ValidationError("%r is a required property" % (name,))


def _required_list_only(validator, required, instance, schema):
    """Draft-4 `required` arrays still apply; booleans are handled by `properties`."""
    if isinstance(required, bool) or not validator.is_type(instance, "object"):
        return
    for name in required:
        if name not in instance:
            yield ValidationError("%r is a required property" % (name,))


St2Validator = validators.extend(
    Draft4Validator, {"properties": _properties_with_required, "required": _required_list_only})


def st2_validator(schema: Dict[str, Any]):
    """A validator for `schema` that behaves like StackStorm's CustomValidator."""
    custom = load_schema(os.path.join("util-schema", "custom.json"))
    try:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4
    except ImportError:
        Registry = None
    # `referencing` may be importable beside an older jsonschema (StackStorm's 2.6.0 behind a
    # pack virtualenv): only jsonschema >= 4.18 validators take a registry.
    fields = [field.name for field in getattr(St2Validator, "__attrs_attrs__", ())]
    if Registry is not None and "_registry" in fields:
        resource = Resource.from_contents(custom, default_specification=DRAFT4)
        registry = Registry().with_resources([(DRAFT4_URI, resource), (DRAFT4_URI + "#", resource)])
        return St2Validator(schema, registry=registry)
    resolver = jsonschema.RefResolver.from_schema(
        schema, store={DRAFT4_URI: custom, DRAFT4_URI + "#": custom})
    return St2Validator(schema, resolver=resolver)


def schema_errors(instance: Any, schema: Dict[str, Any]) -> List[str]:
    """Messages of every violation, each prefixed with the path inside the document."""
    messages = []
    for error in sorted(st2_validator(schema).iter_errors(instance), key=lambda e: list(e.path)):
        where = ".".join(str(p) for p in error.path) or "(top)"
        messages.append("%s: %s" % (where, error.message))
    return messages


def _load_yaml(path: str) -> Tuple[Any, Optional[str]]:
    try:
        with open(path) as handle:
            return yaml.safe_load(handle), None
    except (OSError, yaml.YAMLError) as error:
        return None, "cannot be parsed: %s" % (error,)


class Pack(object):
    """The metadata of a pack directory, loaded once."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self.load_problems = []  # type: List[str]
        self.manifest = self._load("pack.yaml") or {}
        self.ref = self.manifest.get("ref") or self.manifest.get("name") or "unknown"
        self.files = {kind: self._glob(kind) for kind in RESOURCE_KINDS}
        self.workflows = self._glob(os.path.join("actions", "workflows"))
        self.docs = {}  # type: Dict[str, Any]
        for kind in RESOURCE_KINDS:
            for rel in self.files[kind]:
                self.docs[rel] = self._load(rel)
        for rel in self.workflows:
            self.docs[rel] = self._load(rel)
        self.actions = {}  # type: Dict[str, Tuple[str, Dict[str, Any]]]
        for rel in self.files["actions"]:
            doc = self.docs[rel]
            if isinstance(doc, dict) and doc.get("name"):
                self.actions["%s.%s" % (self.ref, doc["name"])] = (rel, doc)
        self.trigger_types = {}  # type: Dict[str, Dict[str, Any]]
        for rel in self.files["sensors"]:
            doc = self.docs[rel]
            for trigger in (doc or {}).get("trigger_types") or [] if isinstance(doc, dict) else []:
                if isinstance(trigger, dict) and trigger.get("name"):
                    # StackStorm always prefixes the sensor's pack: name "x" -> "<pack>.x".
                    self.trigger_types["%s.%s" % (self.ref, trigger["name"])] = trigger

    def _glob(self, sub: str) -> List[str]:
        found = []
        for ext in ("yaml", "yml"):
            found += glob.glob(os.path.join(self.root, sub, "*." + ext))
        return sorted(os.path.relpath(p, self.root) for p in found)

    def _load(self, rel: str) -> Any:
        path = os.path.join(self.root, rel)
        if not os.path.exists(path):
            return None
        doc, problem = _load_yaml(path)
        if problem:
            self.load_problems.append("%s: %s" % (rel, problem))
        return doc

    def path(self, rel: str) -> str:
        return os.path.join(self.root, rel)

    def action_parameters(self, ref: str) -> Optional[Tuple[Set[str], Set[str]]]:
        """(all accepted parameter names, required ones without default) or None if unknown."""
        if ref in BUILTIN_ACTIONS:
            params, required = BUILTIN_ACTIONS[ref]
            return set(params), set(required)
        if ref not in self.actions:
            return None
        meta = self.actions[ref][1]
        params = dict((name, {}) for name in RUNNER_PARAMETERS.get(meta.get("runner_type"), []))
        for name, spec in (meta.get("parameters") or {}).items():
            params[name] = spec if isinstance(spec, dict) else {}
        required = {name for name, spec in params.items()
                    if spec.get("required") is True and "default" not in spec}
        return set(params), required


# ---------------------------------------------------------------- metadata against schemas

def check_pack_manifest(pack: Pack) -> List[str]:
    """pack.yaml exists and (in this repository) has the pack's ref. Its schema is checked by
    StackStorm's own st2-validate-pack on the genuine track (tests/genuine)."""
    if not os.path.isfile(pack.path("pack.yaml")):
        return ["pack.yaml: missing"]
    problems = []
    if pack.manifest.get("ref") != "self_healing" and os.path.samefile(pack.root, REPO_ROOT):
        problems.append("pack.yaml: ref must be self_healing")
    return problems


def check_resource(pack: Pack, rel: str) -> List[str]:
    """What StackStorm's API models do not check in one resource file: its `pack` field, dotted
    trigger names and each trigger payload_schema in StackStorm's dialect. The schemas
    themselves are applied by the genuine ActionAPI/RuleAPI/... on the genuine track."""
    kind = rel.split(os.sep)[0]
    doc = pack.docs.get(rel)
    if not isinstance(doc, dict):
        return ["%s: not a YAML mapping" % rel]
    doc = dict(doc)
    problems = []
    if doc.get("pack", pack.ref) != pack.ref:
        problems.append("%s: pack is %r but the file is in pack %r" % (rel, doc["pack"], pack.ref))
    doc.setdefault("pack", pack.ref)
    if kind == "sensors":
        meta = load_schema(os.path.join("util-schema", "custom.json"))
        for index, trigger in enumerate(doc.get("trigger_types") or []):
            if isinstance(trigger, dict) and "." in str(trigger.get("name", "")):
                problems.append("%s: trigger_types[%d] name %r contains a dot; StackStorm "
                                "prefixes the pack itself" % (rel, index, trigger["name"]))
            payload_schema = trigger.get("payload_schema") if isinstance(trigger, dict) else None
            if payload_schema is None:
                problems.append("%s: trigger_types[%d] has no payload_schema" % (rel, index))
                continue
            problems += ["%s: trigger_types[%d].payload_schema.%s" % (rel, index, m)
                         for m in _payload_schema_errors(payload_schema, meta)]
    return problems


def _payload_schema_errors(payload_schema: Any, meta: Dict[str, Any]) -> List[str]:
    """Meta-validate a trigger payload schema in StackStorm's dialect (custom draft-4)."""
    messages = []
    for error in sorted(st2_validator(meta).iter_errors(payload_schema),
                        key=lambda e: list(e.path)):
        where = ".".join(str(p) for p in error.path) or "(top)"
        if error.path and error.path[-1] == "required" and isinstance(error.instance, list):
            messages.append("%s: a draft-4 required list, which StackStorm's payload "
                            "validation ignores; write `required: true` inside each property"
                            % where)
        else:
            messages.append("%s: %s" % (where, error.message))
    return messages


def check_unique_names(pack: Pack) -> List[str]:
    problems = []
    for kind in RESOURCE_KINDS:
        seen = {}  # type: Dict[str, str]
        for rel in pack.files[kind]:
            doc = pack.docs.get(rel)
            name = doc.get("name") or doc.get("class_name") if isinstance(doc, dict) else None
            if name in seen:
                problems.append("%s: name %r also used by %s" % (rel, name, seen[name]))
            elif name:
                seen[name] = rel
    return problems


def check_config_schema(pack: Pack) -> List[str]:
    """config.schema.yaml, key by key, against the action-parameter meta-schema."""
    rel = "config.schema.yaml"
    if not os.path.isfile(pack.path(rel)):
        return ["%s: missing" % rel]
    doc, problem = _load_yaml(pack.path(rel))
    if problem:
        return ["%s: %s" % (rel, problem)]
    if not isinstance(doc, dict):
        return ["%s: not a YAML mapping" % rel]
    meta = load_schema(os.path.join("util-schema", "action_params.json"))
    problems = []
    for key, spec in doc.items():
        if not re.match(r"^\w+$", str(key)):
            problems.append("%s: key %r does not match ^\\w+$" % (rel, key))
        problems += ["%s: %s: %s" % (rel, key, m) for m in schema_errors(spec, meta)]
    return problems


def check_example_config(pack: Pack, settings_loader=None) -> List[str]:
    """The example config validates against config.schema.yaml (and loads, if a loader is given)."""
    examples = sorted(glob.glob(pack.path("*.yaml.example")))
    if not examples:
        return ["%s.yaml.example: missing" % pack.ref]
    schema, problem = _load_yaml(pack.path("config.schema.yaml"))
    if problem or not isinstance(schema, dict):
        return ["config.schema.yaml: cannot be used to validate the example"]
    problems = []
    for path in examples:
        rel = os.path.relpath(path, pack.root)
        config, problem = _load_yaml(path)
        if problem:
            problems.append("%s: %s" % (rel, problem))
            continue
        wrapper = {"type": "object", "properties": schema, "additionalProperties": True}
        problems += ["%s: %s" % (rel, m) for m in schema_errors(config or {}, wrapper)]
        if settings_loader is not None:
            try:
                settings_loader(config, environ={}, schema=schema)
            except ValueError as error:
                problems.append("%s: load_settings: %s" % (rel, error))
    return problems


# ---------------------------------------------------------------- workflows

def parse_action_string(value: str) -> Tuple[str, Dict[str, str]]:
    """`core.echo message="hi"` -> ("core.echo", {"message": "hi"})."""
    parts = value.strip().split(None, 1)
    params = {}
    if len(parts) == 2:
        for match in re.finditer(r"(\w+)=(\"[^\"]*\"|'[^']*'|\S+)", parts[1]):
            params[match.group(1)] = match.group(2)
    return parts[0], params


def _is_expression(value: Any) -> bool:
    return isinstance(value, str) and bool(re.search(r"<%.*%>|\{\{.*\}\}", value, re.DOTALL))


def check_action_ref(pack: Pack, where: str, ref: Any, inputs: Any) -> List[str]:
    """A reference resolves and its inputs are declared and complete (like st2's inspect)."""
    if not isinstance(ref, str) or _is_expression(ref):
        return []
    if not re.match(r"^[\w-]+\.[\w.-]+$", ref):
        return ["%s: action reference %r is not formatted as <pack>.<action>" % (where, ref)]
    known = pack.action_parameters(ref)
    if known is None:
        return ["%s: action %r is neither a pack action nor a known StackStorm built-in"
                % (where, ref)]
    if not isinstance(inputs, dict):
        return []
    params, required = known
    problems = ["%s: action %r has unexpected input %r" % (where, ref, name)
                for name in sorted(set(inputs) - params)]
    problems += ["%s: action %r is missing required input %r" % (where, ref, name)
                 for name in sorted(required - set(inputs))]
    return problems


def check_workflow_syntax(pack: Pack, rel: str) -> List[str]:
    doc = pack.docs.get(rel)
    if not isinstance(doc, dict):
        return ["%s: not a YAML mapping" % rel]
    # orquesta validates its own spec with a stock draft-4 validator (required lists honoured).
    validator = Draft4Validator(load_schema("orquesta.json"))
    return ["%s: %s: %s" % (rel, ".".join(str(p) for p in e.path) or "(top)", e.message)
            for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.path))]


def check_workflow_tasks(pack: Pack, rel: str) -> List[str]:
    doc = pack.docs.get(rel)
    if not isinstance(doc, dict):
        return ["%s: not a YAML mapping" % rel]
    problems = []
    tasks = doc.get("tasks") if isinstance(doc.get("tasks"), dict) else {}
    for name, task in tasks.items():
        if not isinstance(task, dict) or not task.get("action") or _is_expression(task["action"]):
            continue  # StackStorm does not inspect an action chosen by an expression either
        ref, inline = parse_action_string(str(task["action"]))
        inputs = task.get("input") if task.get("input") is not None else {}
        if isinstance(inputs, dict):
            inputs = dict(inline, **inputs)
        problems += check_action_ref(pack, "%s: task %s" % (rel, name), ref, inputs)
    return problems


def check_workflow_inspect(pack: Pack, rel: str) -> List[str]:
    """orquesta's own inspection (syntax, semantics, expressions, context)."""
    from orquesta.specs import native as native_specs
    doc = pack.docs.get(rel)
    if not isinstance(doc, dict):
        return ["%s: not a YAML mapping" % rel]
    try:
        spec = native_specs.WorkflowSpec(doc)
        result = spec.inspect(app_ctx={"st2": {}, "parent": {}}, raise_exception=False)
    except Exception as error:  # orquesta raises on some malformed specs
        return ["%s: orquesta cannot load it: %s" % (rel, error)]
    problems = []
    for category, errors in sorted((result or {}).items()):
        for error in errors:
            where = error.get("spec_path") or error.get("schema_path") or ""
            problems.append("%s: orquesta %s error at %s: %s"
                            % (rel, category, where, error.get("message")))
    return problems


def check_workflow_metadata(pack: Pack, rel: str) -> List[str]:
    """Every workflow file is the entry point of an orquesta action whose params it accepts."""
    entry = os.path.relpath(rel, "actions")
    owners = [(ref, meta) for ref, (_, meta) in pack.actions.items()
              if meta.get("entry_point") == entry]
    if not owners:
        return ["%s: no action metadata (runner_type orquesta) uses it as entry_point" % rel]
    doc = pack.docs.get(rel) if isinstance(pack.docs.get(rel), dict) else {}
    declared = set()
    for item in doc.get("input") if isinstance(doc.get("input"), list) else []:
        declared.update(item.keys() if isinstance(item, dict) else [item])
    problems = []
    for ref, meta in owners:
        if meta.get("runner_type") != "orquesta":
            problems.append("%s: used by %s whose runner_type is not orquesta" % (rel, ref))
        for param in sorted(set(meta.get("parameters") or {}) - declared):
            problems.append("%s: parameter %r of %s is not a workflow input" % (rel, param, ref))
    return problems


# ---------------------------------------------------------------- rules, aliases, policies

def _trigger_fields(text: str) -> Set[str]:
    return set(re.findall(r"\btrigger\.(\w+)", text))


def check_rule(pack: Pack, rel: str) -> List[str]:
    doc = pack.docs.get(rel)
    if not isinstance(doc, dict):
        return ["%s: not a YAML mapping" % rel]
    problems = []
    if "enabled" not in doc:
        problems.append("%s: enabled is not set (StackStorm defaults a rule to disabled)" % rel)
    trigger_type = (doc.get("trigger") or {}).get("type")
    trigger = pack.trigger_types.get(trigger_type)
    if trigger is None and trigger_type not in BUILTIN_TRIGGERS:
        problems.append("%s: trigger type %r is declared by no pack sensor and is not a "
                        "StackStorm built-in" % (rel, trigger_type))
    action = doc.get("action") or {}
    problems += check_action_ref(pack, "%s: action" % rel, action.get("ref"),
                                 action.get("parameters") or {})
    payload_props = ((trigger or {}).get("payload_schema") or {}).get("properties")
    if payload_props is not None:
        used = set()
        for key in (doc.get("criteria") or {}):
            used |= _trigger_fields(str(key))
        used |= _trigger_fields(json.dumps(action.get("parameters") or {}))
        for field in sorted(used - set(payload_props)):
            problems.append("%s: uses trigger.%s, not in the payload_schema of %s"
                            % (rel, field, trigger_type))
    return problems


_FORMAT_PARAM = re.compile(r"\{\{\s*([^\s=}]+)\s*(=|\}\})")


def _alias_formats(doc: Dict[str, Any]) -> List[str]:
    result = []
    for fmt in doc.get("formats") or []:
        if isinstance(fmt, dict):
            # A display-only format is help text; commands match its representations.
            result.extend(str(r) for r in fmt.get("representation") or [])
        else:
            result.append(str(fmt))
    return result


def check_alias(pack: Pack, rel: str) -> List[str]:
    doc = pack.docs.get(rel)
    if not isinstance(doc, dict):
        return ["%s: not a YAML mapping" % rel]
    ref = doc.get("action_ref")
    known = pack.action_parameters(ref) if isinstance(ref, str) else None
    if known is None:
        return ["%s: action_ref %r does not exist" % (rel, ref)]
    params, required = known
    problems = []
    immutable = set((doc.get("immutable_parameters") or {}).keys())
    problems += ["%s: immutable parameter %r is not a parameter of %s" % (rel, name, ref)
                 for name in sorted(immutable - params)]
    for fmt in _alias_formats(doc):
        names = {m.group(1) for m in _FORMAT_PARAM.finditer(fmt)}
        problems += ["%s: format %r uses %r, not a parameter of %s" % (rel, fmt, name, ref)
                     for name in sorted(names - params)]
        problems += ["%s: format %r cannot supply required parameter %r of %s"
                     % (rel, fmt, name, ref) for name in sorted(required - names - immutable)]
    return problems


def check_policy(pack: Pack, rel: str) -> List[str]:
    doc = pack.docs.get(rel)
    if not isinstance(doc, dict):
        return ["%s: not a YAML mapping" % rel]
    ref = doc.get("resource_ref")
    known = pack.action_parameters(ref) if isinstance(ref, str) else None
    problems = []
    if known is None or ref in BUILTIN_ACTIONS:
        problems.append("%s: resource_ref %r is not an action of this pack" % (rel, ref))
    if doc.get("policy_type") not in POLICY_TYPES:
        problems.append("%s: policy_type %r is not one of %s"
                        % (rel, doc.get("policy_type"), ", ".join(sorted(POLICY_TYPES))))
    attributes = (doc.get("parameters") or {}).get("attributes") or []
    if known is not None:
        problems += ["%s: attribute %r is not a parameter of %s" % (rel, name, ref)
                     for name in attributes if name not in known[0]]
    return problems


# ---------------------------------------------------------------- code files

def _class_bases(tree: ast.AST) -> Dict[str, List[str]]:
    bases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            names = []
            for base in node.bases:
                if isinstance(base, ast.Name):
                    names.append(base.id)
                elif isinstance(base, ast.Attribute):
                    names.append(base.attr)
            bases[node.name] = names
    return bases


def _library_bases(directories: Iterable[str]) -> Dict[str, List[str]]:
    """Class name -> base names for every class defined in the given library directories."""
    bases = {}  # type: Dict[str, List[str]]
    for directory in directories:
        for path in glob.glob(os.path.join(directory, "**", "*.py"), recursive=True):
            try:
                with open(path) as handle:
                    bases.update(_class_bases(ast.parse(handle.read(), path)))
            except (OSError, SyntaxError):
                continue
    return bases


def _derives_from(name: str, roots: Set[str], bases: Dict[str, List[str]],
                  seen: Optional[Set[str]] = None) -> bool:
    seen = seen if seen is not None else set()
    if name in roots:
        return True
    if name in seen:
        return False
    seen.add(name)
    return any(_derives_from(base, roots, bases, seen) for base in bases.get(name, []))


def subclasses_defined(path: str, roots: Set[str], library_dirs: Iterable[str]) -> List[str]:
    """Names of classes defined in `path` that derive (transitively) from one of `roots`."""
    with open(path) as handle:
        tree = ast.parse(handle.read(), path)
    local = _class_bases(tree)
    bases = _library_bases(library_dirs)
    bases.update(local)
    return sorted(name for name in local
                  if name not in roots and _derives_from(name, roots, bases))


def check_action_entry_point(pack: Pack, rel: str) -> List[str]:
    doc = pack.docs.get(rel)
    if not isinstance(doc, dict):
        return ["%s: not a YAML mapping" % rel]
    entry = doc.get("entry_point")
    runner = doc.get("runner_type")
    if not entry:
        return [] if runner in ("noop", "local-shell-cmd", "http-request", "inquirer") else [
            "%s: entry_point is missing" % rel]
    path = os.path.join(pack.root, "actions", entry)
    if not os.path.isfile(path):
        return ["%s: entry_point actions/%s does not exist" % (rel, entry)]
    if runner != "python-script":
        return []
    try:
        classes = subclasses_defined(path, {"Action"}, [pack.path(os.path.join("actions", "lib"))])
    except SyntaxError as error:
        return ["%s: entry_point actions/%s has a syntax error: %s" % (rel, entry, error)]
    if len(classes) != 1:
        return ["%s: entry_point actions/%s defines %d Action subclasses (%s), needs exactly one"
                % (rel, entry, len(classes), ", ".join(classes) or "none")]
    return []


def check_sensor_entry_point(pack: Pack, rel: str) -> List[str]:
    doc = pack.docs.get(rel)
    if not isinstance(doc, dict):
        return ["%s: not a YAML mapping" % rel]
    entry, class_name = doc.get("entry_point"), doc.get("class_name")
    path = os.path.join(pack.root, "sensors", entry or "")
    if not entry or not os.path.isfile(path):
        return ["%s: entry_point sensors/%s does not exist" % (rel, entry)]
    libs = [pack.path("sensors"), pack.path(os.path.join("actions", "lib"))]
    try:
        classes = subclasses_defined(path, SENSOR_BASES, libs)
    except SyntaxError as error:
        return ["%s: entry_point has a syntax error: %s" % (rel, error)]
    if class_name not in classes:
        return ["%s: class_name %r is not a Sensor/PollingSensor subclass defined in sensors/%s"
                % (rel, class_name, entry)]
    return []


def ruff_problems(paths: List[str], cwd: str, isolated: bool = False) -> List[str]:
    """ruff's findings (line length 100) for the paths; an empty list when clean."""
    command = [sys.executable, "-m", "ruff", "check", "--output-format", "concise"]
    if isolated:
        command += ["--isolated", "--line-length", "100", "--select", "E,F,W,B"]
    result = subprocess.run(command + paths, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True)
    if result.returncode == 0:
        return []
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    return lines or ["ruff exited with %d" % result.returncode]


def all_problems(pack: Pack, with_orquesta: bool = False, settings_loader=None) -> List[str]:
    """Every check over every file of a pack (used for fixture packs)."""
    problems = list(pack.load_problems) + check_pack_manifest(pack) + check_unique_names(pack)
    problems += check_config_schema(pack) + check_example_config(pack, settings_loader)
    for kind in RESOURCE_KINDS:
        for rel in pack.files[kind]:
            problems += check_resource(pack, rel)
    for rel in pack.files["actions"]:
        problems += check_action_entry_point(pack, rel)
    for rel in pack.files["sensors"]:
        problems += check_sensor_entry_point(pack, rel)
    for rel in pack.files["rules"]:
        problems += check_rule(pack, rel)
    for rel in pack.files["aliases"]:
        problems += check_alias(pack, rel)
    for rel in pack.files["policies"]:
        problems += check_policy(pack, rel)
    for rel in pack.workflows:
        problems += check_workflow_syntax(pack, rel) + check_workflow_tasks(pack, rel)
        problems += check_workflow_metadata(pack, rel)
        if with_orquesta:
            problems += check_workflow_inspect(pack, rel)
    return problems

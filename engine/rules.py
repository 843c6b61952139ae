"""StackStorm rules: match a trigger instance against criteria, render the action parameters."""
import re
from typing import Any, Callable, Dict, List, Optional

from engine import operators, rendering

_PATH_TOKEN = re.compile(r"""\[\s*(?:'([^']*)'|"([^"]*)"|(\d+))\s*\]|([^.\[\]]+)""")
_MISSING = object()
WEBHOOK = "core.st2.webhook"  # POST /api/v1/webhooks/<url>: payload {"headers", "body"}


class RuleError(ValueError):
    """A rule is malformed or its parameters cannot be rendered."""


class Rule(object):
    """One rules/*.yaml document."""

    def __init__(self, data: Dict[str, Any]) -> None:
        self.data = data
        self.name = data["name"]
        self.pack = data.get("pack", "")
        self.ref = "%s.%s" % (self.pack, self.name) if self.pack else self.name
        self.enabled = bool(data.get("enabled", False))  # StackStorm's schema default
        trigger = data.get("trigger") or {}
        self.trigger_type = trigger.get("type", "")
        self.trigger_parameters = trigger.get("parameters") or {}
        self.criteria = data.get("criteria") or {}
        action = data.get("action") or {}
        self.action_ref = action.get("ref", "")
        self.action_parameters = action.get("parameters") or {}
        self.path = data.get("_path", "")

    def __repr__(self) -> str:
        return "Rule(%s)" % self.ref


def lookup(payload: Dict[str, Any], key: str) -> Any:
    """Value at a criteria key such as `trigger.target.kind` or `trigger.headers['X-A']`."""
    path = key[len("trigger."):] if key.startswith("trigger.") else key
    if key == "trigger":
        return payload
    value = payload  # type: Any
    for match in _PATH_TOKEN.finditer(path):
        name = next(group for group in match.groups() if group is not None)
        if isinstance(value, dict):
            value = value.get(name, _MISSING)
        elif isinstance(value, list) and name.isdigit() and int(name) < len(value):
            value = value[int(name)]
        else:
            value = _MISSING
        if value is _MISSING:
            return None
    return value


class RuleMatcher(object):
    """Criteria evaluation with the engine's clock and datastore."""

    def __init__(self, now_fn: Callable[[], float], store: Any = None) -> None:
        self.now = now_fn
        self.store = store

    def matches(self, rule: Rule, trigger_type: str, payload: Dict[str, Any],
                parameters: Optional[Dict[str, Any]] = None) -> bool:
        if not rule.enabled or rule.trigger_type != trigger_type:
            return False
        if trigger_type == WEBHOOK and not same_webhook(rule.trigger_parameters, parameters):
            return False
        return all(self.criterion(key, spec, payload) for key, spec in rule.criteria.items())

    def criterion(self, key: str, spec: Dict[str, Any], payload: Dict[str, Any]) -> bool:
        op_name = (spec or {}).get("type", "equals")
        pattern = (spec or {}).get("pattern")
        value = lookup(payload, key)
        if op_name == "search":
            return self._search(value, spec)
        if isinstance(pattern, str) and "{{" in pattern:
            pattern = rendering.render_value(pattern, {"trigger": payload}, self.store)
        return bool(operators.get(op_name, self.now)(value, pattern))

    def _search(self, value: Any, spec: Dict[str, Any]) -> bool:
        """`search`: item criteria over a list with condition any|all|any2any|all2any."""
        if not isinstance(value, list):
            return False
        condition = spec.get("condition", "any")
        item_criteria = spec.get("pattern") or {}

        def check(item: Any, key: str, sub: Dict[str, Any]) -> bool:
            field = key[len("item."):] if key.startswith("item.") else key
            return self.criterion("trigger." + field if field else "trigger", sub,
                                  item if isinstance(item, dict) else {})

        def all_criteria(item: Any) -> bool:
            return all(check(item, k, s) for k, s in item_criteria.items())

        def any_criteria(item: Any) -> bool:
            return any(check(item, k, s) for k, s in item_criteria.items())

        if condition == "all":
            return bool(value) and all(all_criteria(item) for item in value)
        if condition == "any":
            return any(all_criteria(item) for item in value)
        if condition == "any2any":
            return any(any_criteria(item) for item in value)
        if condition == "all2any":
            return bool(value) and all(any_criteria(item) for item in value)
        raise RuleError("unknown search condition %r" % condition)

    def render_parameters(self, rule: Rule, payload: Dict[str, Any]) -> Dict[str, Any]:
        """The action parameters, rendered with `trigger` and `st2kv` (strings, cast later)."""
        context = {"trigger": payload, "rule": {"ref": rule.ref, "name": rule.name}}
        try:
            return rendering.render_value(dict(rule.action_parameters), context, self.store)
        except Exception as error:
            raise RuleError("%s: cannot render parameters: %s" % (rule.ref, error)) from error


def same_webhook(rule_parameters: Dict[str, Any], parameters: Optional[Dict[str, Any]]) -> bool:
    """A webhook rule fires only for its own URL (`parameters.url`, slashes ignored)."""
    wanted = str((rule_parameters or {}).get("url", "")).strip("/")
    return bool(wanted) and wanted == str((parameters or {}).get("url", "")).strip("/")


def webhook_payload(body: Any, headers: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """The trigger instance payload StackStorm builds for a webhook POST."""
    return {"headers": dict(headers or {"Content-Type": "application/json"}), "body": body}


def load_rules(documents: List[Dict[str, Any]]) -> List[Rule]:
    """Rule objects from parsed YAML documents (Pack.resources('rules'))."""
    return [Rule(doc) for doc in documents if "name" in doc]


def matching(rules: List[Rule], matcher: RuleMatcher, trigger_type: str,
             payload: Dict[str, Any], errors: Optional[List[str]] = None,
             parameters: Optional[Dict[str, Any]] = None) -> List[Rule]:
    """Enabled rules whose trigger (and its parameters, for webhooks) and criteria match;
    criteria errors are recorded, not raised."""
    found = []
    for rule in rules:
        try:
            if matcher.matches(rule, trigger_type, payload, parameters):
                found.append(rule)
        except Exception as error:  # a broken criterion never matches, as in StackStorm
            if errors is not None:
                errors.append("%s: %s" % (rule.ref, error))
    return found

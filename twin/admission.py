"""What the API server does to a write before storing it: defaulting, decoding checks against
the schema (twin.schemas), validation, immutable fields, worded as the real server words them.

    warnings = admit(rt, new, old=None, field_validation="Warn", scope="spec")

- Type errors (`replicas: "two"`) -> 400 BadRequest `Deployment in version "v1" cannot be
  handled as a Deployment: json: cannot unmarshal string into Go struct field
  DeploymentSpec.spec.replicas of type int32`.
- Unknown fields: fieldValidation=Strict -> 400 `strict decoding error: unknown field
  "spec.foo"`; Warn (the default) -> dropped, returned as warnings (Warning headers);
  Ignore -> dropped.
- Validation -> 422 Invalid `Deployment.apps "x" is invalid: spec.replicas: Invalid value: -1:
  must be greater than or equal to 0` (several: `[a, b]`), with details.causes.
- Defaults (create and update, as the decoder applies them; twin.defaults): pod specs (also
  in templates), Deployments, ReplicaSets, DaemonSets, Jobs, Services; create responses carry
  a status.
"""
import re
from typing import Any, Dict, List, Optional, Tuple

from twin import schemas, selectors
from twin.defaults import TEMPLATED, apply_defaults
from twin.quantities import parse_quantity
from twin.resources import ResourceType
from twin.store.errors import ApiError, BadRequest, Invalid

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


# --------------------------------------------------------------------------- errors
def _go_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"%s"' % value
    if isinstance(value, dict) and set(value) <= {"matchLabels", "matchExpressions"}:
        labels = value.get("matchLabels") or {}
        inner = ", ".join('"%s":"%s"' % kv for kv in sorted(labels.items()))
        return ("v1.LabelSelector{MatchLabels:map[string]string{%s}, MatchExpressions:"
                "[]v1.LabelSelectorRequirement(nil)}" % inner)
    if isinstance(value, dict):
        return "map[string]string{%s}" % ", ".join('"%s":"%s"' % kv
                                                   for kv in sorted(value.items()))
    return str(value)


class FieldErrors:
    """Collects field errors; `raise_if_any` makes the 422 Status."""

    def __init__(self) -> None:
        self.items: List[Tuple[str, str, str]] = []  # (reason, field, message)

    def required(self, field: str, detail: str = "") -> None:
        self.items.append(("FieldValueRequired", field,
                           "Required value" + (": " + detail if detail else "")))

    def invalid(self, field: str, value: Any, detail: str) -> None:
        self.items.append(("FieldValueInvalid", field,
                           "Invalid value: %s: %s" % (_go_value(value), detail)))

    def unsupported(self, field: str, value: Any, allowed: List[Any]) -> None:
        self.items.append(("FieldValueNotSupported", field,
                           "Unsupported value: %s: supported values: %s" % (
                               _go_value(value), ", ".join(_go_value(a) for a in allowed))))

    def forbidden(self, field: str, detail: str) -> None:
        self.items.append(("FieldValueForbidden", field, "Forbidden: " + detail))

    def raise_if_any(self, rt: ResourceType, name: str) -> None:
        if not self.items:
            return
        parts = ["%s: %s" % (f, m) for _r, f, m in self.items]
        text = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
        qualified = "%s.%s" % (rt.kind, rt.group) if rt.group else rt.kind
        details: Dict[str, Any] = {"name": name, "kind": rt.kind, "causes": [
            {"reason": r, "message": m, "field": f} for r, f, m in self.items]}
        if rt.group:
            details["group"] = rt.group
        raise Invalid('%s "%s" is invalid: %s' % (qualified, name, text), details)


# --------------------------------------------------------------------------- validation
def _metadata(md: Dict[str, Any], errs: FieldErrors) -> None:
    for key, value in (md.get("labels") or {}).items():
        name = key.rsplit("/", 1)[-1]
        if not name or len(name) > 63 or not _LABEL_NAME.match(name):
            errs.invalid("metadata.labels", key, "name part must consist of alphanumeric "
                         "characters, '-', '_' or '.', and must start and end with an "
                         "alphanumeric character")
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            errs.invalid("metadata.labels", value, "a valid label must be an empty string or "
                         "consist of alphanumeric characters, '-', '_' or '.', and must start "
                         "and end with an alphanumeric character (e.g. 'MyValue',  or "
                         "'my_value',  or '12345', regex used for validation is "
                         "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")


def _quantity_ok(value: Any) -> bool:
    try:
        parse_quantity(value)
        return True
    except (TypeError, ValueError):
        return False


def _pod_spec(spec: Any, path: str, errs: FieldErrors, restart: Tuple[str, ...] = ()) -> None:
    if not isinstance(spec, dict):
        return
    containers = spec.get("containers")
    if not containers:
        errs.required(path + ".containers")
    names = set()
    for i, c in enumerate(containers or []):
        if not isinstance(c, dict):
            continue
        cpath = "%s.containers[%d]" % (path, i)
        name = c.get("name") or ""
        if not name:
            errs.required(cpath + ".name")
        elif not _DNS_LABEL.match(name) or len(name) > 63:
            errs.invalid(cpath + ".name", name, "a lowercase RFC 1123 label must consist of "
                         "lower case alphanumeric characters or '-', and must start and end "
                         "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
                         "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
        elif name in names:
            errs.items.append(("FieldValueDuplicate", cpath + ".name",
                               'Duplicate value: "%s"' % name))
        names.add(name)
        if not c.get("image"):
            errs.required(cpath + ".image")
        res = c.get("resources") or {}
        for kind in ("requests", "limits"):
            for rname, qty in (res.get(kind) or {}).items():
                if not _quantity_ok(qty):
                    errs.invalid("%s.resources.%s[%s]" % (cpath, kind, rname), qty,
                                 "quantities must match the regular expression "
                                 "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
        for rname, qty in (res.get("requests") or {}).items():
            limit = (res.get("limits") or {}).get(rname)
            if limit is not None and _quantity_ok(qty) and _quantity_ok(limit) and \
                    parse_quantity(qty) > parse_quantity(limit):
                errs.invalid("%s.resources.requests" % cpath, qty,
                             "must be less than or equal to %s limit of %s" % (rname, limit))
    policy = spec.get("restartPolicy")
    if restart and policy not in restart:
        errs.unsupported(path + ".restartPolicy", policy, list(restart))
    grace = spec.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace < 0:
        errs.invalid(path + ".terminationGracePeriodSeconds", grace,
                     "must be greater than or equal to 0")


def _selector_matches(sel: Dict[str, Any], labels: Dict[str, Any]) -> bool:
    try:
        return selectors.match_labels(selectors.parse_labels(selectors.selector_string(sel)),
                                      labels)
    except Exception:  # noqa: BLE001 - a malformed selector is reported elsewhere
        return False


def _workload(rt: ResourceType, obj: Dict[str, Any], errs: FieldErrors) -> None:
    spec = obj.get("spec") or {}
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and replicas < 0:
        errs.invalid("spec.replicas", replicas, "must be greater than or equal to 0")
    sel = spec.get("selector")
    template = spec.get("template") or {}
    if rt.plural == "replicationcontrollers" and isinstance(sel, dict):
        sel = {"matchLabels": sel}  # core/v1 selects with a plain label map
    if isinstance(sel, dict):
        if not sel.get("matchLabels") and not sel.get("matchExpressions"):
            errs.invalid("spec.selector", sel, "empty selector is invalid for %s"
                         % rt.singular)
        else:
            labels = (template.get("metadata") or {}).get("labels") or {}
            if not _selector_matches(sel, labels):
                errs.invalid("spec.template.metadata.labels", labels,
                             "`selector` does not match template `labels`")
    restart = ("OnFailure", "Never") if rt.plural == "jobs" else ("Always",)
    _pod_spec(template.get("spec"), "spec.template.spec", errs, restart)
    if rt.plural == "deployments":
        ru = ((spec.get("strategy") or {}).get("rollingUpdate") or {})
        if ru.get("maxUnavailable") in (0, "0%") and ru.get("maxSurge") in (0, "0%"):
            errs.invalid("spec.strategy.rollingUpdate.maxUnavailable", 0,
                         "may not be 0 when `maxSurge` is 0")
    if rt.plural == "jobs":
        for key in ("parallelism", "completions", "backoffLimit"):
            value = spec.get(key)
            if isinstance(value, int) and value < 0:
                errs.invalid("spec." + key, value, "must be greater than or equal to 0")


def validate(rt: ResourceType, obj: Dict[str, Any], old: Optional[Dict[str, Any]],
             errs: FieldErrors) -> None:
    """Semantic rules of the kinds the pack touches, plus immutable fields on update."""
    md = obj.get("metadata") or {}
    _metadata(md, errs)
    spec = obj.get("spec") or {}
    if rt.plural in TEMPLATED:
        _workload(rt, obj, errs)
    elif rt.plural == "pods":
        _pod_spec(spec, "spec", errs, ("Always", "OnFailure", "Never"))
    elif rt.plural == "poddisruptionbudgets":
        if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
            errs.invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set")
    elif rt.plural == "horizontalpodautoscalers":
        lo, hi = spec.get("minReplicas", 1), spec.get("maxReplicas")
        if isinstance(lo, int) and lo < 1:
            errs.invalid("spec.minReplicas", lo, "must be greater than or equal to 1")
        if isinstance(hi, int) and isinstance(lo, int) and hi < lo:
            errs.invalid("spec.maxReplicas", hi,
                         "must be greater than or equal to `minReplicas`")
    elif rt.plural == "configmaps":
        for key in list((obj.get("data") or {})) + list((obj.get("binaryData") or {})):
            if not _CONFIG_KEY.match(key) or len(key) > 253:
                errs.invalid("data[%s]" % key, key, "a valid config key must consist of "
                             "alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
                             "'KEY_NAME',  or 'key-name', regex used for validation is "
                             "'[-._a-zA-Z0-9]+')")
    elif rt.plural == "events":
        inv = obj.get("involvedObject") or {}
        ns = md.get("namespace") or ""
        if inv.get("namespace") and ns and inv["namespace"] != ns:
            errs.invalid("involvedObject.namespace", inv["namespace"],
                         "does not match event.namespace")
    if old is not None:
        _immutable(rt, obj, old, errs)


def _immutable(rt: ResourceType, new: Dict[str, Any], old: Dict[str, Any],
               errs: FieldErrors) -> None:
    ns, os_ = new.get("spec") or {}, old.get("spec") or {}
    if rt.plural in TEMPLATED and ns.get("selector") != os_.get("selector"):
        errs.invalid("spec.selector", ns.get("selector"), "field is immutable")
    if rt.plural == "jobs" and ns.get("template") != os_.get("template"):
        errs.invalid("spec.template", ns.get("template"), "field is immutable")
    if rt.plural == "services" and os_.get("clusterIP") and \
            ns.get("clusterIP") != os_.get("clusterIP"):
        errs.invalid("spec.clusterIP", ns.get("clusterIP"), "field is immutable")
    if rt.plural == "pods":
        def mutable_view(spec: Dict[str, Any]) -> Dict[str, Any]:
            view = {k: v for k, v in spec.items() if k not in (
                "activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds")}
            view["containers"] = [{k: v for k, v in c.items() if k != "image"}
                                  for c in spec.get("containers") or [] if isinstance(c, dict)]
            if not old.get("spec", {}).get("nodeName"):
                view.pop("nodeName", None)
            return view
        if mutable_view(ns) != mutable_view(os_):
            errs.forbidden("spec", "pod updates may not change fields other than "
                           "`spec.containers[*].image`,`spec.initContainers[*].image`,"
                           "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions "
                           "to existing tolerations),`spec.terminationGracePeriodSeconds` "
                           "(allow it to be set to 1 if it was previously negative)")


# --------------------------------------------------------------------------- entry point
FIELD_VALIDATION = ("Strict", "Warn", "Ignore")


def admit(rt: ResourceType, new: Dict[str, Any], old: Optional[Dict[str, Any]] = None,
          field_validation: str = "Warn", scope: str = "spec") -> List[str]:
    """Default, decode-check and validate `new` in place; returns the warnings. Raises
    BadRequest (400) for what the decoder refuses, Invalid (422) for what validation does."""
    if field_validation not in FIELD_VALIDATION:
        raise BadRequest('fieldValidation must be one of "Strict", "Warn", "Ignore"; got %s'
                         % field_validation)
    warnings: List[str] = []
    problems = schemas.check(rt.group, rt.version, rt.kind, new)
    if problems is not None:
        if problems.type_errors:
            path, go_type, value = problems.type_errors[0]
            raise BadRequest('%s in version "%s" cannot be handled as a %s: json: cannot '
                             "unmarshal %s into Go struct field %s.%s of type %s"
                             % (rt.kind, rt.version, rt.kind, _json_kind(value),
                                _holder(rt, path), path, go_type))
        if problems.unknown:
            fields = [schemas.dotted(p) for p in problems.unknown]
            if field_validation == "Strict":
                raise BadRequest('%s in version "%s" cannot be handled as a %s: strict '
                                 "decoding error: %s" % (rt.kind, rt.version, rt.kind, ", ".join(
                                     'unknown field "%s"' % f for f in fields)))
            if field_validation == "Warn":
                warnings.extend('unknown field "%s"' % f for f in fields)
            schemas.strip_unknown(new, problems)
    if scope == "status":
        return warnings
    apply_defaults(rt, new, create=old is None)
    errs = FieldErrors()
    if problems is not None:
        for path in problems.required:
            if not path.startswith("status"):
                errs.required(path)
        for path, value, message in problems.invalid:
            errs.invalid(path, value, message)
        for path, value, allowed in problems.unsupported:
            errs.unsupported(path, value, allowed)
    validate(rt, new, old, errs)
    errs.raise_if_any(rt, (new.get("metadata") or {}).get("name") or "")
    return warnings


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _holder(rt: ResourceType, path: str) -> str:
    """The Go struct that holds the field's top-level part (DeploymentSpec for spec.x)."""
    top = path.split(".", 1)[0].split("[", 1)[0]
    return {"spec": rt.kind + "Spec", "status": rt.kind + "Status",
            "metadata": "ObjectMeta"}.get(top, rt.kind)


__all__ = ["admit", "apply_defaults", "validate", "ApiError"]

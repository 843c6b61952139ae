"""Shared base of the pack's Python actions: settings, clients, result helpers.

Subclasses implement `execute(**params) -> dict`. `run()` turns a bad pack config
(`ConfigError`), a Kubernetes failure (`KubeError`) or a bad parameter (`ActionInputError`)
into a clear failed result `(False, {"error": ...})` instead of a traceback.
"""
import re
from typing import Any, Dict, Optional, Tuple, Union

from st2common.runners.base_action import Action

from lib import clock
from lib.config import ConfigError, Settings, load_settings
from lib.k8s_events import record_event
from lib.kube import Kube, KubeError

ANNOTATION_PREFIX = "self-healing.io/"
ANN_INCIDENT = ANNOTATION_PREFIX + "incident"
ANN_CORDONED_BY = ANNOTATION_PREFIX + "cordoned-by"
HEALER = "self-healing"

Result = Union[Dict[str, Any], Tuple[bool, Dict[str, Any]]]


class ActionInputError(ValueError):
    """A parameter value the action cannot work with (message names the parameter)."""


class SelfHealingAction(Action):
    """Base class: lazy Settings / Kube / Prometheus / Datastore and uniform failures."""

    def __init__(self, config: Optional[Dict[str, Any]] = None,
                 action_service: Any = None) -> None:
        super(SelfHealingAction, self).__init__(config=config, action_service=action_service)
        self._settings: Optional[Settings] = None
        self._kube: Optional[Kube] = None

    @property
    def settings(self) -> Settings:
        """The validated pack config (raises ConfigError on a bad value)."""
        if self._settings is None:
            self._settings = load_settings(self.config)
        return self._settings

    @property
    def kube(self) -> Kube:
        """A Kubernetes client built from the `kubernetes` settings."""
        if self._kube is None:
            self._kube = Kube(self.settings.kubernetes)
        return self._kube

    def prom(self) -> Any:
        """A Prometheus client from the `prometheus` settings (lib.prom)."""
        from lib import prom

        return prom.Prom.from_settings(self.settings.prometheus)

    def datastore(self) -> Any:
        """The pack's JSON datastore over this action's action_service."""
        from lib.datastore import Datastore

        return Datastore(self.action_service)

    def run(self, **params: Any) -> Result:
        """StackStorm entry point: execute and map known failures to a failed result."""
        try:
            result = self.execute(**params)
        except ConfigError as error:
            return False, {"error": "pack config: %s" % error, "error_type": "config"}
        except ActionInputError as error:
            return False, {"error": str(error), "error_type": "input"}
        except KubeError as error:
            return False, {"error": str(error), "error_type": "kubernetes",
                           "status": error.status}
        if isinstance(result, tuple):
            return result
        if result.get("changed"):
            self._audit(params, result)
        if result.get("ok") is False:
            return False, result
        return result

    def _audit(self, params: Dict[str, Any], result: Dict[str, Any]) -> None:
        """Append a datastore audit record of a mutation (best effort)."""
        if self.action_service is None:
            return
        try:
            from lib import audit

            audit.append(self.datastore(), {
                "type": "mutation", "action": action_ref(type(self).__name__),
                "incident_id": params.get("incident_id", ""),
                "parameters": {k: v for k, v in params.items() if k != "dry_run"},
                "would": result.get("would", "")})
        except Exception as error:  # the audit trail never fails a remediation
            self.logger.warning("could not write the audit record: %s", error)

    def require_target(self, namespace: str, **names: Any) -> None:
        """Fail with ActionInputError on an empty `namespace` or named parameter (in that
        order), then on a protected namespace: the guard of every namespaced mutation."""
        require(namespace, "namespace")
        for name, value in names.items():
            require(value, name)
        if self.settings.is_protected_namespace(namespace):
            raise ActionInputError("namespace: %s is protected" % namespace)

    def finish(self, change: Dict[str, Any], dry_run: bool,
               event: Tuple[str, Optional[str], str, str, str], **fields: Any) -> Dict[str, Any]:
        """result_of(change, dry_run, **fields), after a core/v1 Event about the object when the
        change was made: event = (kind, namespace, name, reason, message), the message a
        str.format template over the change's keys; the Event names fields' incident_id."""
        if change["changed"]:
            kind, namespace, name, reason, message = event
            record_event(self.kube, kind, namespace, name, reason, message.format(**change),
                         fields.get("incident_id"))
        return result_of(change, dry_run, **fields)

    def execute(self, **params: Any) -> Dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError


def action_ref(class_name: str) -> str:
    """`CordonNode` -> `self_healing.cordon_node`."""
    return "self_healing." + re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()


def mutation_result(changed: bool, dry_run: bool, would: str, **fields: Any) -> Dict[str, Any]:
    """The common shape of a mutating action's result."""
    result = {"changed": bool(changed) and not dry_run, "dry_run": bool(dry_run),
              "would": would, "at": clock.isoformat(clock.now())}
    result.update(fields)
    return result


def result_of(change: Dict[str, Any], dry_run: bool, **fields: Any) -> Dict[str, Any]:
    """mutation_result of a lib mutation's dict: its `changed` and `would` lead, then
    `fields`, then the rest of the dict (`change` loses those two keys)."""
    changed = change.pop("changed")
    would = change.pop("would")
    return mutation_result(changed, dry_run, would, **fields, **change)


def require(value: Any, name: str) -> Any:
    """Fail with ActionInputError when a required parameter is empty."""
    if value is None or value == "":
        raise ActionInputError("%s: is required" % name)
    return value


def healer_annotations(incident_id: Optional[str]) -> Dict[str, str]:
    """Annotations marking an object as changed by the healer (for this incident)."""
    ann = {ANNOTATION_PREFIX + "changed-by": HEALER,
           ANNOTATION_PREFIX + "changed-at": clock.isoformat(clock.now())}
    if incident_id:
        ann[ANN_INCIDENT] = incident_id
    return ann

"""The slice of StackStorm's API that pack actions reach through st2client, served in-process.

Python actions run by the engine get StackStorm's environment (`ST2_ACTION_API_URL`,
`ST2_ACTION_AUTH_TOKEN`, ...). When the real st2client is not installed, `engine/st2client_standin`
provides `st2client.client.Client`, whose managers call the active engine: inquiries
(get_all, get_by_id, respond), executions (get_by_id, create), keys (get_by_name), webhooks
(post_generic_webhook).
"""
import os
import sys
from typing import Any, Dict, List, Optional

API_URL = "http://st2.engine.local/api/v1"
TOKEN = "engine-local-token"
STANDIN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "st2client_standin")
_active_runner = None


def activate(runner: Any) -> None:
    """Route st2client calls to `runner` (an engine ActionRunner)."""
    global _active_runner
    _active_runner = runner
    try:
        import st2client  # noqa: F401
    except ImportError:
        if STANDIN_DIR not in sys.path:
            sys.path.append(STANDIN_DIR)


def action_environment(execution: Any, pack: str) -> Dict[str, str]:
    """What StackStorm's python runner exports to an action."""
    return {"ST2_ACTION_PACK_NAME": pack, "ST2_ACTION_EXECUTION_ID": execution.id,
            "ST2_ACTION_API_URL": API_URL, "ST2_ACTION_AUTH_TOKEN": TOKEN}


class Resource(object):
    """A st2client model: attributes from a dict."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    def to_dict(self) -> Dict[str, Any]:
        return dict(self.__dict__)


class ApiError(Exception):
    """What st2client raises for an HTTP error (carries the status code)."""

    def __init__(self, status: int, message: str) -> None:
        super(ApiError, self).__init__(message)
        self.status_code = status


def _runner() -> Any:
    if _active_runner is None:
        raise ApiError(503, "no engine is running")
    return _active_runner


class InquiryManager(object):
    def get_all(self, **kwargs: Any) -> List[Resource]:
        policy = _runner().inquiry_policy
        return [self._resource(i) for i in policy.pending()]

    def get_by_id(self, inquiry_id: str, **kwargs: Any) -> Resource:
        inquiry = _runner().inquiry_policy.find(inquiry_id)
        if inquiry is None:
            raise ApiError(404, "Inquiry %s not found" % inquiry_id)
        return self._resource(inquiry)

    def respond(self, inquiry_id: str, response: Dict[str, Any], **kwargs: Any) -> Resource:
        runner = _runner()
        try:
            inquiry = runner.inquiry_policy.respond(inquiry_id, response, runner.now())
        except ValueError as error:
            raise ApiError(400, str(error)) from error
        runner.inquiry_policy.by_human += 1
        return Resource(id=inquiry.id, response=inquiry.response)

    @staticmethod
    def _resource(inquiry: Any) -> Resource:
        return Resource(id=inquiry.id, route=inquiry.route, ttl=inquiry.ttl,
                        users=inquiry.users, roles=inquiry.roles, schema=inquiry.schema,
                        status=inquiry.status)


class ExecutionManager(object):
    def get_by_id(self, execution_id: str, **kwargs: Any) -> Resource:
        for execution in _runner().executions:
            if execution.id == execution_id:
                parent = execution.context.get("parent")
                context = {"parent": {"execution_id": parent}} if parent else {}
                started = execution.started_at
                return Resource(id=execution.id, action={"ref": execution.ref},
                                parameters=execution.parameters, status=execution.status,
                                result=execution.result, context=context,
                                start_timestamp=_iso(started) if started is not None else "")
        raise ApiError(404, "Execution %s not found" % execution_id)

    def create(self, instance: Any, **kwargs: Any) -> Resource:
        """Run an action (`st2 run`): as the API does, it is requested by the token's user."""
        fields = instance.to_dict() if hasattr(instance, "to_dict") else dict(instance)
        execution = _runner().run(fields["action"], dict(fields.get("parameters") or {}),
                                  {"user": "stanley"})
        return Resource(id=execution.id, action={"ref": execution.ref},
                        parameters=execution.parameters, status=execution.status)


def _iso(epoch: float) -> str:
    import datetime
    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class KeyManager(object):
    def get_by_name(self, name: str, scope: str = "system", **kwargs: Any) -> Optional[Resource]:
        item = _runner().store.get(name, scope)
        return Resource(name=item.name, value=item.value, scope=scope) if item else None


class WebhookManager(object):
    def post_generic_webhook(self, trigger: str, payload: Optional[Dict[str, Any]] = None,
                             trace_tag: Optional[str] = None, **kwargs: Any) -> Dict[str, Any]:
        """POST /webhooks/st2: dispatch a registered trigger (enforced by the engine)."""
        runner = _runner()
        dispatch = getattr(runner, "dispatch_trigger", None)
        if dispatch is None:
            raise ApiError(503, "no rules engine is running to take trigger %s" % trigger)
        dispatch(trigger, dict(payload or {}))
        return {"trigger": trigger, "payload": payload or {}}


class Client(object):
    """st2client.client.Client look-alike bound to the active engine."""

    def __init__(self, base_url: Optional[str] = None, api_url: Optional[str] = None,
                 token: Optional[str] = None, **kwargs: Any) -> None:
        if token != TOKEN and api_url == API_URL:
            raise ApiError(401, "invalid or missing auth token")
        self.api_url = api_url
        self.inquiries = InquiryManager()
        self.executions = ExecutionManager()
        self.keys = KeyManager()
        self.webhooks = WebhookManager()
        self.managers = {"Inquiry": self.inquiries, "Execution": self.executions,
                         "KeyValuePair": self.keys, "Webhook": self.webhooks}

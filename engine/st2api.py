"""The slice of StackStorm's API that pack actions reach through st2client, served in-process.

Python actions run by the engine get StackStorm's environment (`ST2_ACTION_API_URL`,
`ST2_ACTION_AUTH_TOKEN`, ...). When the real st2client is not installed, `engine/st2client_standin`
provides `st2client.client.Client`, whose managers call the active engine: inquiries
(get_all, get_by_id, respond), executions (get_by_id, create), keys (get_by_name), webhooks
(post_generic_webhook). In an action's own process (engine/child.py) the managers forward each
call to the engine over the action's RPC channel (`use_remote`); the engine answers with
`serve_call`.
"""
import os
import sys
from typing import Any, Callable, Dict, List, Optional

API_URL = "http://st2.engine.local/api/v1"
TOKEN = "engine-local-token"
STANDIN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "st2client_standin")
_active_runner = None
_remote: Optional[Callable[[str, str, List[Any], Dict[str, Any]], Any]] = None


def activate(runner: Any) -> None:
    """Route st2client calls to `runner` (an engine ActionRunner)."""
    global _active_runner
    if runner is not None:
        _active_runner = runner
    try:
        import st2client  # noqa: F401
        if runner is not None and not getattr(st2client, "ENGINE_STANDIN", False):
            _serve_http()  # the genuine st2client speaks HTTP: give it the API to speak to
    except ImportError:
        if STANDIN_DIR not in sys.path:
            sys.path.append(STANDIN_DIR)


def _serve_http() -> None:
    """Start (once) the HTTP API genuine st2client reaches through ST2_ACTION_API_URL."""
    global API_URL
    if API_URL.startswith("http://127.0.0.1:"):
        return
    from engine import st2http
    API_URL = st2http.start(lambda manager, method, args, kwargs: serve_call(
        _runner(), manager, method, args, kwargs), TOKEN)


def use_remote(call: Callable[[str, str, List[Any], Dict[str, Any]], Any]) -> None:
    """In a worker child: `call(manager, method, args, kwargs)` reaches the engine."""
    global _remote
    _remote = call
    activate(None)


def serve_call(runner: Any, manager: str, method: str, args: List[Any],
               kwargs: Dict[str, Any]) -> Any:
    """Engine side of a forwarded st2client call: the JSON form of the manager's answer."""
    managers = {"inquiries": InquiryManager, "executions": ExecutionManager,
                "keys": KeyManager, "webhooks": WebhookManager}
    if manager not in managers or method.startswith("_"):
        raise ApiError(400, "unsupported st2client call %s.%s" % (manager, method))
    target = getattr(managers[manager](lambda: runner), method, None)
    if target is None:
        raise ApiError(400, "unsupported st2client call %s.%s" % (manager, method))
    return _to_json(target(*[_from_json(arg) for arg in args], **kwargs))


def _to_json(value: Any) -> Any:
    if hasattr(value, "to_dict") and not isinstance(value, dict):
        return {"__resource__": value.to_dict()}
    if isinstance(value, list):
        return [_to_json(item) for item in value]
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"__resource__"}:
        return Resource(**value["__resource__"])
    if isinstance(value, list):
        return [_from_json(item) for item in value]
    return value


class _RemoteManager(object):
    """A manager whose every method is forwarded to the engine."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_"):
            raise AttributeError(method)

        def call(*args: Any, **kwargs: Any) -> Any:
            return _from_json(_remote(self._name, method, [_to_json(arg) for arg in args],
                                      kwargs))

        return call


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


class _Manager(object):
    def __init__(self, runner_fn: Callable[[], Any] = _runner) -> None:
        self._runner = runner_fn


class InquiryManager(_Manager):
    def get_all(self, **kwargs: Any) -> List[Resource]:
        policy = self._runner().inquiry_policy
        return [self._resource(i) for i in policy.pending()]

    def get_by_id(self, id: str, **kwargs: Any) -> Optional[Resource]:  # noqa: A002
        """The Inquiry, or None when there is none (st2client returns None on a 404)."""
        inquiry = self._runner().inquiry_policy.find(id)
        return None if inquiry is None else self._resource(inquiry)

    def respond(self, inquiry_id: str, inquiry_response: Dict[str, Any],
                **kwargs: Any) -> Resource:
        runner = self._runner()
        try:
            inquiry = runner.inquiry_policy.respond(inquiry_id, inquiry_response, runner.now())
        except ValueError as error:
            raise ApiError(400, str(error)) from error
        runner.inquiry_policy.by_human += 1
        return Resource(id=inquiry.id, response=inquiry.response)

    @staticmethod
    def _resource(inquiry: Any) -> Resource:
        return Resource(id=inquiry.id, route=inquiry.route, ttl=inquiry.ttl,
                        users=inquiry.users, roles=inquiry.roles, schema=inquiry.schema,
                        status=inquiry.status)


class ExecutionManager(_Manager):
    def get_by_id(self, id: str, **kwargs: Any) -> Optional[Resource]:  # noqa: A002
        """The execution, or None when there is none (st2client returns None on a 404)."""
        for execution in self._runner().executions:
            if execution.id == id:
                parent = execution.context.get("parent")
                context = {"parent": {"execution_id": parent}} if parent else {}
                started = execution.started_at
                return Resource(id=execution.id, action={"ref": execution.ref},
                                parameters=execution.parameters, status=execution.status,
                                result=execution.result, context=context,
                                start_timestamp=_iso(started) if started is not None else "")
        return None

    def create(self, instance: Any, **kwargs: Any) -> Resource:
        """Run an action (`st2 run`): as the API does, it is requested by the token's user."""
        fields = instance.to_dict() if hasattr(instance, "to_dict") else dict(instance)
        execution = self._runner().run(fields["action"], dict(fields.get("parameters") or {}),
                                  {"user": "stanley"})
        return Resource(id=execution.id, action={"ref": execution.ref},
                        parameters=execution.parameters, status=execution.status)


def _iso(epoch: float) -> str:
    import datetime
    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class KeyManager(_Manager):
    def get_by_name(self, name: str, scope: str = "system", **kwargs: Any) -> Optional[Resource]:
        item = self._runner().store.get(name, scope)
        return Resource(name=item.name, value=item.value, scope=scope) if item else None


class WebhookManager(_Manager):
    def post_generic_webhook(self, trigger: str, payload: Optional[Dict[str, Any]] = None,
                             trace_tag: Optional[str] = None, **kwargs: Any) -> Dict[str, Any]:
        """POST /webhooks/st2: dispatch a registered trigger (enforced by the engine)."""
        runner = self._runner()
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
        if _remote is not None:
            self.inquiries: Any = _RemoteManager("inquiries")
            self.executions: Any = _RemoteManager("executions")
            self.keys: Any = _RemoteManager("keys")
            self.webhooks: Any = _RemoteManager("webhooks")
        else:
            self.inquiries = InquiryManager()
            self.executions = ExecutionManager()
            self.keys = KeyManager()
            self.webhooks = WebhookManager()
        self.managers = {"Inquiry": self.inquiries, "Execution": self.executions,
                         "KeyValuePair": self.keys, "Webhook": self.webhooks}

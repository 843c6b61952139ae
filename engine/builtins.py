"""StackStorm's built-in actions the pack's workflows use, simulated in-process."""
import sys
from typing import Any, Callable, Dict, List, Optional

from engine import execution as ex

DEFAULT_ASK_SCHEMA = {
    "type": "object",
    "properties": {"continue": {"type": "boolean", "required": True,
                                "description": "Would you like to continue the workflow?"}},
}
APPROVE_WORDS = ("approve", "approved", "yes", "continue", "execute", "proceed", "accept")
DENY_WORDS = ("deny", "denied", "no", "reject", "abort", "stop", "cancel")


def _shell_result(stdout: str) -> Dict[str, Any]:
    return {"stdout": stdout, "stderr": "", "return_code": 0, "succeeded": True,
            "failed": False}


def noop(runner: Any, execution: ex.Execution):
    return ex.SUCCEEDED, _shell_result("")


def echo(runner: Any, execution: ex.Execution):
    return ex.SUCCEEDED, _shell_result(str(execution.parameters.get("message", "")))


def local(runner: Any, execution: ex.Execution):
    """core.local is refused: the engine never runs shell commands from the pack."""
    cmd = execution.parameters.get("cmd", "")
    if getattr(runner, "simulate_local", False):
        return ex.SUCCEEDED, _shell_result("(simulated) %s" % cmd)
    return ex.FAILED, {"stdout": "", "stderr": "core.local is not allowed in the local engine",
                       "return_code": 1, "succeeded": False, "failed": True}


class ChatLog(object):
    """Messages posted with chatops.post_message, with virtual times."""

    def __init__(self, echo_fn: Optional[Callable[[Dict[str, Any]], None]] = None) -> None:
        self.messages: List[Dict[str, Any]] = []
        self.echo_fn = echo_fn

    def post(self, message: Dict[str, Any]) -> None:
        self.messages.append(message)
        if self.echo_fn is not None:
            self.echo_fn(message)


def post_message(runner: Any, execution: ex.Execution):
    params = dict(execution.parameters)
    if not params.get("channel") or "message" not in params:
        return ex.FAILED, {"error": "chatops.post_message needs channel and message"}
    chat = getattr(runner, "chat", None)
    if chat is None:
        chat = runner.chat = ChatLog()
    entry = dict(params)
    entry["at"] = runner.now()
    chat.post(entry)
    return ex.SUCCEEDED, params


class Inquiry(object):
    """A core.ask question: pending until answered or expired."""

    def __init__(self, execution: ex.Execution, created_at: float) -> None:
        params = execution.parameters
        self.id = execution.id
        self.execution = execution
        self.schema = params.get("schema") or DEFAULT_ASK_SCHEMA
        self.ttl = int(params.get("ttl") or 1440)
        self.route = params.get("route") or ""
        self.users = params.get("users") or []
        self.roles = params.get("roles") or []
        self.created_at = created_at
        self.status = ex.PENDING
        self.response: Optional[Dict[str, Any]] = None
        self.answered_at: Optional[float] = None
        self.answer_at: Optional[float] = None
        self.planned: Optional[bool] = None

    def payload(self) -> Dict[str, Any]:
        """The `core.st2.generic.inquiry` trigger payload."""
        return {"id": self.id, "route": self.route, "ttl": self.ttl, "users": self.users,
                "roles": self.roles, "schema": self.schema}

    def base_result(self) -> Dict[str, Any]:
        return {"schema": self.schema, "roles": self.roles, "users": self.users,
                "route": self.route, "ttl": self.ttl}


def build_response(schema: Dict[str, Any], approve: bool) -> Dict[str, Any]:
    """A response to `schema` that approves or denies (booleans, enums, defaults)."""
    words = APPROVE_WORDS if approve else DENY_WORDS
    response: Dict[str, Any] = {}
    for name, spec in (schema.get("properties") or {}).items():
        spec = spec or {}
        kind = spec.get("type")
        if kind == "boolean":
            response[name] = bool(approve)
        elif "enum" in spec:
            options = list(spec["enum"])
            chosen = [opt for opt in options if str(opt).lower() in words]
            if chosen:
                response[name] = chosen[0]
            elif "default" in spec:
                response[name] = spec["default"]
            elif options:
                response[name] = options[0] if approve else options[-1]
        elif "default" in spec:
            response[name] = spec["default"]
        elif kind == "string" and spec.get("required"):
            response[name] = "approved by engine policy" if approve else "denied by engine policy"
    return response


class InquiryPolicy(object):
    """Answers core.ask Inquiries: approve, deny, expire (after the TTL) or ask on a TTY.

    An Inquiry stays pending (its workflow paused) until `respond()` is called (by this policy
    `respond_after_s` after it was raised, by a chat command through the st2 API stand-in, or
    by a test) or until its TTL runs out.
    """

    MODES = ("auto", "approve", "deny", "expire", "ask", "manual", "chat")

    def __init__(self, mode: str = "auto", respond_after_s: float = 60.0,
                 input_fn: Optional[Callable[[str], str]] = None) -> None:
        if mode not in self.MODES:
            raise ValueError("approve policy must be one of %s" % ", ".join(self.MODES))
        self.mode = "approve" if mode == "auto" else mode
        self.respond_after_s = respond_after_s
        self.input_fn = input_fn
        self.inquiries: List[Inquiry] = []
        self.by_human = 0
        # mode "chat": an operator answers in chat; responder(inquiry, approve) runs the command
        self.responder: Optional[Callable[[Inquiry, bool], None]] = None

    def decide(self, inquiry: Inquiry) -> Optional[bool]:
        """True approve, False deny, None no answer (expire or wait for `respond`)."""
        if self.mode in ("approve", "chat"):
            return True
        if self.mode == "deny":
            return False
        if self.mode in ("expire", "manual"):
            return None
        reader = self.input_fn
        if reader is None:
            if not sys.stdin.isatty():
                return False
            reader = _terminal_input
        answer = reader("Inquiry %s (%s) %s\napprove? [y/N/e=expire] "
                        % (inquiry.id, inquiry.route, inquiry.schema.get("description", "")))
        answer = (answer or "").strip().lower()
        self.by_human += 1
        if answer.startswith("e"):
            return None
        return answer in ("y", "yes", "approve", "a")

    def raise_inquiry(self, inquiry: Inquiry) -> None:
        """Register a new Inquiry and plan its answer."""
        self.inquiries.append(inquiry)
        decision = self.decide(inquiry)
        inquiry.planned = decision
        delay = 0.0 if self.mode == "ask" else self.respond_after_s
        inquiry.answer_at = (inquiry.created_at + min(delay, inquiry.ttl * 60)
                             if decision is not None else None)

    def pending(self) -> List[Inquiry]:
        return [i for i in self.inquiries if i.status == ex.PENDING]

    def find(self, inquiry_id: str) -> Optional[Inquiry]:
        for inquiry in self.inquiries:
            if inquiry.id == inquiry_id:
                return inquiry
        return None

    def respond(self, inquiry_id: str, response: Dict[str, Any], now: float) -> Inquiry:
        """Answer a pending Inquiry (validated against its schema); its execution succeeds."""
        inquiry = self.find(inquiry_id)
        if inquiry is None or inquiry.status != ex.PENDING:
            raise ValueError("no pending Inquiry %r" % inquiry_id)
        problem = validate_response(inquiry.schema, response)
        if problem:
            raise ValueError("response does not match the Inquiry schema: %s" % problem)
        inquiry.response = dict(response)
        approved = [v for v in response.values() if isinstance(v, bool)]
        inquiry.status = "approved" if (approved and approved[0]) else "denied"
        inquiry.answered_at = now
        result = inquiry.base_result()
        result["response"] = inquiry.response
        inquiry.execution.finish(ex.SUCCEEDED, result, now)
        return inquiry

    def expire(self, inquiry: Inquiry, now: float) -> None:
        inquiry.status = "expired"
        inquiry.answered_at = now
        inquiry.execution.finish(ex.TIMEOUT, inquiry.base_result(), now)

    def process_due(self, now: float) -> None:
        """Answer or expire the Inquiries whose time has come."""
        for inquiry in self.pending():
            if inquiry.answer_at is not None and now >= inquiry.answer_at - 1e-6:
                if self.mode == "chat" and self.responder is not None:
                    inquiry.answer_at = None  # asked once; the chat command answers (or not)
                    self.responder(inquiry, bool(inquiry.planned))
                    continue
                self.respond(inquiry.id, build_response(inquiry.schema, bool(inquiry.planned)),
                             now)
            elif now >= inquiry.created_at + inquiry.ttl * 60 - 1e-6:
                self.expire(inquiry, now)

    def next_due(self) -> Optional[float]:
        times = []
        for inquiry in self.pending():
            times.append(inquiry.answer_at if inquiry.answer_at is not None
                         else inquiry.created_at + inquiry.ttl * 60)
        return min(times) if times else None


def _terminal_input(prompt: str) -> str:
    """Prompt on the real terminal (an action's captured stdout must not swallow it)."""
    sys.__stdout__.write(prompt)
    sys.__stdout__.flush()
    return sys.stdin.readline()


def validate_response(schema: Dict[str, Any], response: Dict[str, Any]) -> Optional[str]:
    """StackStorm validates an Inquiry response with its JSON schema (draft-4 + `required`)."""
    if not isinstance(response, dict):
        return "response must be an object"
    properties = schema.get("properties") or {}
    for name, spec in properties.items():
        if (spec or {}).get("required") and name not in response:
            return "%r is a required property" % name
    for name in schema.get("required") or []:
        if name not in response:
            return "%r is a required property" % name
    try:
        import jsonschema
        plain = {k: {kk: vv for kk, vv in (v or {}).items() if kk != "required"}
                 for k, v in properties.items()}
        checked = dict(schema, properties=plain)
        checked.pop("required", None)
        jsonschema.Draft4Validator(checked).validate(response)
    except ImportError:  # pragma: no cover
        return None
    except Exception as error:  # jsonschema.ValidationError
        return getattr(error, "message", str(error))
    return None


def ask(runner: Any, execution: ex.Execution):
    """core.ask: raise an Inquiry and announce it; the execution stays pending until answered."""
    policy = getattr(runner, "inquiry_policy", None)
    if policy is None:
        policy = runner.inquiry_policy = InquiryPolicy("deny")
    inquiry = Inquiry(execution, runner.now())
    policy.raise_inquiry(inquiry)
    dispatch = getattr(runner, "dispatch_trigger", None)
    if dispatch is not None:
        dispatch("core.st2.generic.inquiry", inquiry.payload())
    return ex.PENDING, inquiry.base_result()


def kv_set(runner: Any, execution: ex.Execution):
    params = execution.parameters
    runner.store.set(params["key"], str(params.get("value", "")), params.get("ttl"))
    return ex.SUCCEEDED, {"key": params["key"]}


def kv_get(runner: Any, execution: ex.Execution):
    return ex.SUCCEEDED, runner.store.get_value(execution.parameters["key"])


DEFAULTS = {
    "core.noop": noop,
    "core.echo": echo,
    "core.local": local,
    "core.local_sudo": local,
    "core.ask": ask,
    "chatops.post_message": post_message,
    "st2.kv.set": kv_set,
    "st2.kv.get": kv_get,
}  # type: Dict[str, Callable]

"""ChatOps in the engine: match a chat command against the pack's aliases and run its action.

Follows StackStorm's alias semantics closely enough for the pack's formats: `{{ name }}` and
`{{ name=default }}` placeholders, several `representation`s per format, trailing `key=value`
extra parameters, `immutable_parameters` (never overridable), the execution context StackStorm
gives an alias execution (`api_user` = the chat user, `user` = the bot's StackStorm user,
`source_channel`), and the `ack` / `result` messages rendered with Jinja and posted back.
"""
import re
from typing import Any, Dict, List, Optional, Tuple

from engine import rendering

_PLACEHOLDER = re.compile(r"{{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:=\s*(.*?))?\s*}}")
_EXTRA = re.compile(r"""(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|'[^']*'|\S+)\s*$""")
_VALUE = r"""(?:"[^"]*"|'[^']*'|\S+)"""
BOT_USER = "chatops_bot"  # the StackStorm user st2chatops authenticates as (config bot_user)


class NoMatch(ValueError):
    """No alias format matches the command (or more than one does)."""


class Alias(object):
    """One aliases/*.yaml document."""

    def __init__(self, data: Dict[str, Any]) -> None:
        self.data = data
        self.name = data["name"]
        self.ref = "%s.%s" % (data.get("pack", ""), self.name)
        self.enabled = bool(data.get("enabled", True))
        self.action_ref = data.get("action_ref", "")
        self.immutable = dict(data.get("immutable_parameters") or {})
        self.ack = data.get("ack") or {}
        self.result = data.get("result") or {}
        self.formats: List[str] = []
        for item in data.get("formats") or []:
            if isinstance(item, dict):
                self.formats.extend(item.get("representation") or [item.get("display", "")])
            else:
                self.formats.append(item)

    def match(self, command: str) -> Optional[Dict[str, Any]]:
        """Parameters extracted by the first format that matches, or None."""
        base, extra = _split_extra(command)
        for text in self.formats:
            for candidate, extras in ((base, extra), (command, {})):
                params = match_format(text, candidate)
                if params is not None:
                    params.update(extras)
                    return params
        return None


def _split_extra(command: str) -> Tuple[str, Dict[str, str]]:
    """Peel trailing `key=value` pairs off a command."""
    extra: Dict[str, str] = {}
    rest = command
    while True:
        found = _EXTRA.search(rest)
        if not found:
            return rest.strip(), extra
        extra[found.group(1)] = _unquote(found.group(2))
        rest = rest[:found.start()]


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def format_regex(text: str) -> Tuple[str, Dict[str, str]]:
    """A regex for one alias format and the defaults of its optional placeholders."""
    pattern, defaults, last = "", {}, 0
    matches = list(_PLACEHOLDER.finditer(text))
    for index, found in enumerate(matches):
        literal = text[last:found.start()]
        name, default = found.group(1), found.group(2)
        at_end = index == len(matches) - 1 and not text[found.end():].strip()
        value = r".+" if at_end else _VALUE
        if default is not None:
            defaults[name] = _unquote(default.strip())
            pattern += _literal(literal.rstrip()) + r"(?:\s+(?P<%s>%s))?" % (name, value)
        else:
            pattern += _literal(literal) + r"(?P<%s>%s)" % (name, value)
        last = found.end()
    pattern += _literal(text[last:])
    return r"^\s*" + pattern + r"\s*$", defaults


def _literal(text: str) -> str:
    """Literal text of a format; runs of spaces match any whitespace."""
    return r"\s+".join(re.escape(part) for part in text.split(" ")) if text else ""


def match_format(text: str, command: str) -> Optional[Dict[str, Any]]:
    regex, defaults = format_regex(text)
    found = re.match(regex, command, re.DOTALL)
    if not found:
        return None
    params = dict(defaults)
    for name, value in found.groupdict().items():
        if value is not None:
            params[name] = _unquote(value.strip())
    return params


def alias_context(alias: Alias, user: str, channel: str, bot_user: str) -> Dict[str, Any]:
    """The context StackStorm gives an alias execution: the chat user as `api_user`, the
    StackStorm user the bot authenticates as as `user`, the channel as `source_channel`."""
    return {"action_alias_ref": alias.ref, "api_user": user, "user": bot_user,
            "source_channel": channel}


def _refused_by_api(execution: Any) -> str:
    """The error of an execution that failed before its action ran (bad parameters)."""
    result = execution.result if isinstance(execution.result, dict) else {}
    if execution.status != "failed" or "result" in result or "output" in result:
        return ""
    return str(result.get("error") or "")


class ChatOps(object):
    """Runs chat commands through the pack's aliases on an engine's ActionRunner."""

    def __init__(self, documents: List[Dict[str, Any]], runner: Any, store: Any = None,
                 bot_prefix: str = "!", bot_user: str = BOT_USER) -> None:
        self.aliases = [Alias(doc) for doc in documents if "name" in doc]
        self.runner = runner
        self.store = store
        self.bot_prefix = bot_prefix
        self.bot_user = bot_user
        self.history: List[Dict[str, Any]] = []

    def find(self, command: str) -> Tuple[Alias, Dict[str, Any]]:
        text = command.strip()
        if self.bot_prefix and text.startswith(self.bot_prefix):
            text = text[len(self.bot_prefix):]
        found = [(alias, params) for alias in self.aliases if alias.enabled
                 for params in [alias.match(text)] if params is not None]
        if len(found) != 1:
            raise NoMatch("%d aliases match %r" % (len(found), command))
        return found[0]

    def command(self, text: str, user: str = "operator", channel: str = "#incidents") -> Any:
        """Run a chat command; ack and result messages go to the chat log. Returns the execution."""
        alias, params = self.find(text)
        overridden = sorted(set(params) & set(alias.immutable))
        if overridden:  # StackStorm refuses the command before running anything
            raise NoMatch("Immutable arguments cannot be overriden: %s" % ",".join(overridden))
        params.update(alias.immutable)
        chat = getattr(self.runner, "chat", None)
        self._post(chat, user, channel, text, "user")
        execution_view = {"id": "", "parameters": params, "status": "requested"}
        if alias.ack.get("enabled", True) and alias.ack.get("format"):
            self._post(chat, "bot", channel, self._render(alias.ack["format"], execution_view,
                                                          alias), "ack")
        execution = self.runner.run(alias.action_ref, params,
                                    alias_context(alias, user, channel, self.bot_user))
        if execution.status == "pending":
            self.runner.wait_for(execution)
        view = {"id": execution.id, "parameters": execution.parameters,
                "status": execution.status, "result": execution.result}
        refused = _refused_by_api(execution)
        if refused:  # StackStorm's API answers 400 and no action runs; the bot says why
            self._post(chat, "bot", channel, ":x: %s" % refused, "error")
        elif alias.result.get("enabled", True) and alias.result.get("format"):
            self._post(chat, "bot", channel, self._render(alias.result["format"], view, alias),
                       "result")
        self.history.append({"command": text, "alias": alias.ref, "execution": execution.id,
                             "status": execution.status})
        return execution

    def _render(self, template: str, execution: Dict[str, Any], alias: Alias) -> str:
        try:
            return str(rendering.render_value(template, {"execution": execution,
                                                         "actionalias": alias.data},
                                              self.store))
        except Exception as error:  # a broken template is reported, not raised
            return "(alias %s: cannot render message: %s)" % (alias.ref, error)

    def _post(self, chat: Any, user: str, channel: str, message: str, kind: str) -> None:
        if chat is None:
            return
        chat.post({"channel": channel, "message": message, "user": user, "kind": kind,
                   "at": self.runner.now()})


"""ChatOps alias parameter extraction (stand-in for st2common.models.utils.action_alias_utils).

Behaviour, as StackStorm documents it:
- a format string is a regular expression in which `{{name}}` is a required parameter and
  `{{name=default}}` an optional one (the default may be quoted);
- a parameter value is a quoted string ('...' or "..."), a JSON-ish `{...}` or plain text;
- `key=value` pairs at the end of a command are extra parameters (they override matches);
- the match is anchored at both ends unless the format string anchors itself;
- a command that does not match raises ParseException.
"""
import re

from st2common.exceptions.content import ParseException

__all__ = ["extract_parameters", "extract_parameters_for_action_alias_db"]

_VALUE = r"""(?:""|''|"(?P<dq>.+?)"|'(?P<sq>.+?)'|(?P<br>\{.+?\})|(?P<word>\S+))"""
_TRAILING_PAIR = re.compile(r"(?:^|\s+)(?P<key>[^\s=]\S*?)=" + _VALUE + r"(?=\s|$)", re.DOTALL)
_PLACEHOLDER = re.compile(
    r"(?P<space>\s*)\{\{\s*(?P<name>[^\s=}]+)\s*"
    r"""(?:=\s*(?P<default>""|''|"[^"]*"|'[^']*'|\{.+?\}|.+?)\s*)?\}\}""", re.DOTALL)
_GROUP_VALUE = (r"""["']?(?P<%s>(?:(?<=').+?(?=')|(?<=").+?(?=")|\{.+?\}|.+?))["']?""")


def _unquote(text):
    """A default or pair value without its surrounding quotes."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def _split_trailing_pairs(command):
    """Split `command` into (text before the trailing key=value pairs, {key: value})."""
    pairs = {}
    rest = command
    while True:
        last = None
        for match in _TRAILING_PAIR.finditer(rest):
            last = match
        if last is None or rest[last.end():].strip():
            break
        value = next((last.group(g) for g in ("dq", "sq", "br", "word")
                      if last.group(g) is not None), "")
        pairs.setdefault(last.group("key"), value)
        rest = rest[:last.start()]
    return rest, pairs


def _has_anchor(regex, at_start):
    body = regex.strip()
    if at_start:
        return body.startswith("^") or body.startswith(r"\A")
    return (body.endswith("$") and not body.endswith(r"\$")) or body.endswith(r"\Z")


class _FormatParser(object):
    """Compiles one format string and matches commands against it."""

    def __init__(self, format_str):
        self.format_str = format_str or ""
        self.defaults = {}
        pattern = _PLACEHOLDER.sub(self._placeholder_regex, self.format_str)
        if not _has_anchor(self.format_str, True):
            pattern = r"^\s*" + pattern
        if not _has_anchor(self.format_str, False):
            pattern = pattern + r"\s*$"
        self.regex = re.compile(pattern, re.DOTALL)

    def _placeholder_regex(self, match):
        name = match.group("name")
        group = re.escape(match.group("space")) + _GROUP_VALUE % name
        if match.group("default") is None:
            return group
        self.defaults[name] = _unquote(match.group("default"))
        return "(?:%s)?" % group

    def extract(self, command, match_multiple=False):
        text, pairs = _split_trailing_pairs(command or "")
        stream = " %s " % text
        if match_multiple:
            return [self._result(m, command, text, pairs) for m in self.regex.finditer(stream)]
        return self._result(self.regex.search(stream), command, text, pairs)

    def _result(self, matched, command, text, pairs):
        if not matched:
            raise ParseException('Command "%s" doesn\'t match format string "%s"'
                                 % (command or "", self.format_str))
        result = matched.groupdict()
        for name, default in self.defaults.items():
            result[name] = result.get(name) or default
        result.update(pairs)
        if self.format_str and not (text.strip() or any(result.values())):
            raise ParseException("No value supplied and no default value found.")
        return result


def extract_parameters(format_str, param_stream, match_multiple=False):
    """Parameters of `param_stream` (the command) according to `format_str`."""
    return _FormatParser(format_str).extract(param_stream, match_multiple=match_multiple)


def extract_parameters_for_action_alias_db(action_alias_db, format_str, param_stream,
                                           match_multiple=False):
    """Like extract_parameters, but `format_str` must be one of the alias' format strings."""
    if format_str not in action_alias_db.get_format_strings():
        raise ValueError('Format string "%s" is not available on the alias "%s"'
                         % (format_str, action_alias_db.name))
    return extract_parameters(format_str, param_stream, match_multiple=match_multiple)

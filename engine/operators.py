"""StackStorm's rule criteria operators (st2common.operators), by name."""
import fnmatch
import re
from typing import Any, Callable, Dict, Optional

from engine import timeparse


class UnknownOperator(ValueError):
    """A rule uses an operator the engine does not know."""


def _str(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else (None if value is None else str(value))


def equals(value, pattern):
    return value == pattern


def nequals(value, pattern):
    return value != pattern


def iequals(value, pattern):
    if value is None or pattern is None:
        return False
    return str(value).lower() == str(pattern).lower()


def contains(value, pattern):
    if value is None:
        return False
    return pattern in value


def ncontains(value, pattern):
    return not contains(value, pattern)


def icontains(value, pattern):
    if value is None:
        return False
    return str(pattern).lower() in str(value).lower()


def incontains(value, pattern):
    return not icontains(value, pattern)


def startswith(value, pattern):
    return value is not None and str(value).startswith(str(pattern))


def istartswith(value, pattern):
    return value is not None and str(value).lower().startswith(str(pattern).lower())


def endswith(value, pattern):
    return value is not None and str(value).endswith(str(pattern))


def iendswith(value, pattern):
    return value is not None and str(value).lower().endswith(str(pattern).lower())


def match_wildcard(value, pattern):
    return value is not None and fnmatch.fnmatch(str(value), str(pattern))


def match_regex(value, pattern):
    """`matchregex`: re.match (anchored at the start), DOTALL."""
    text = _str(value)
    return text is not None and re.match(pattern, text, re.DOTALL) is not None


def regex(value, pattern):
    """`regex`: re.search anywhere in the value."""
    text = _str(value)
    return text is not None and re.search(pattern, text) is not None


def iregex(value, pattern):
    text = _str(value)
    return text is not None and re.search(pattern, text, re.IGNORECASE) is not None


def lessthan(value, pattern):
    try:
        return value is not None and value < pattern
    except TypeError:
        return False


def greaterthan(value, pattern):
    try:
        return value is not None and value > pattern
    except TypeError:
        return False


def exists(value, pattern):
    return value is not None


def nexists(value, pattern):
    return value is None


def inside(value, pattern):
    """`inside`: the payload value is in the pattern (a list or string)."""
    try:
        return pattern is not None and value in pattern
    except TypeError:
        return False


def ninside(value, pattern):
    return not inside(value, pattern)


def _timediff(value, pattern, now_fn, compare):
    if value is None:
        return False
    age = now_fn() - timeparse.to_epoch(value)
    return compare(age, float(pattern))


def make_timediff(now_fn: Callable[[], float]) -> Dict[str, Callable]:
    """timediff_lt / timediff_gt against the engine's (virtual) clock."""
    return {
        "timediff_lt": lambda v, p: _timediff(v, p, now_fn, lambda a, b: a < b),
        "timediff_gt": lambda v, p: _timediff(v, p, now_fn, lambda a, b: a > b),
    }


OPERATORS = {
    "equals": equals, "eq": equals,
    "nequals": nequals, "neq": nequals,
    "iequals": iequals,
    "contains": contains, "ncontains": ncontains,
    "icontains": icontains, "incontains": incontains,
    "startswith": startswith, "istartswith": istartswith,
    "endswith": endswith, "iendswith": iendswith,
    "matchwildcard": match_wildcard,
    "matchregex": match_regex, "regex": regex, "iregex": iregex,
    "lessthan": lessthan, "lt": lessthan,
    "greaterthan": greaterthan, "gt": greaterthan,
    "exists": exists, "nexists": nexists,
    "inside": inside, "in": inside, "ninside": ninside, "nin": ninside,
}  # type: Dict[str, Callable[[Any, Any], bool]]


def get(name: str, now_fn: Callable[[], float]) -> Callable[[Any, Any], bool]:
    """The operator function; `search` is handled by the rule matcher."""
    key = (name or "").lower()
    if key in OPERATORS:
        return OPERATORS[key]
    timediff = make_timediff(now_fn)
    if key in timediff:
        return timediff[key]
    raise UnknownOperator("unknown criteria operator %r" % name)

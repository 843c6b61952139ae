"""Kubernetes resource quantities ("500m", "2Gi", "1.5", "1e3", 3) read as the API server reads
them: a signed decimal number, then at most one suffix (binary Ki..Ei, decimal n u m k M G T P
E, or a decimal exponent e/E<int>). Anything else is not a quantity (ValueError), which is how
admission tells an invalid `resources.requests` value from a valid one.
"""
import re
from typing import Any

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_GRAMMAR = re.compile(r"^(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
                      r"(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$")


def parse_quantity(value: Any) -> float:
    """A quantity in base units (cores, bytes); 0.0 for None or ""; ValueError if malformed."""
    if value is None or value == "":
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    match = _GRAMMAR.match(str(value).strip())
    if match is None:
        raise ValueError("quantities must match the regular expression "
                         "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': %r" % (value,))
    number, suffix = match.group("number"), match.group("suffix") or ""
    if suffix in _BINARY:
        return float(number) * 1024 ** _BINARY[suffix]
    if suffix in _DECIMAL:
        return float(number) * 10.0 ** _DECIMAL[suffix]
    return float(number + suffix)  # no suffix, or a decimal exponent

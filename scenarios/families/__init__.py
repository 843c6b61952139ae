"""Scenario generator: families of faults and look-alikes drawn from a seed (scenarios/README.md).

`generate(family, seed)` returns one scenario document in the twin's YAML format
(twin/scenario.py); `corpus(count, seed)` cycles through the families.
"""
from typing import Any, Dict, List, Tuple

from scenarios.families import benign, compound, faults
from scenarios.families.common import Draw

FAMILIES = dict(faults.FAMILIES)
FAMILIES.update(benign.FAMILIES)
FAMILIES.update(compound.FAMILIES)
BENIGN_FAMILIES = tuple(benign.FAMILIES)


def generate(family: str, seed: int) -> Dict[str, Any]:
    """One scenario of `family` drawn from `seed` (the same pair gives the same scenario)."""
    if family not in FAMILIES:
        raise ValueError("unknown family %r; known: %s" % (family, ", ".join(sorted(FAMILIES))))
    return FAMILIES[family](Draw(seed))


def corpus(count: int, seed: int = 0, families: Tuple[str, ...] = ()) -> List[Dict[str, Any]]:
    """`count` scenarios, round-robin over the families, seeds seed, seed + 1, ..."""
    names = list(families or sorted(FAMILIES))
    return [generate(names[i % len(names)], seed * 100003 + i) for i in range(count)]

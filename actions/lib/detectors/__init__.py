"""Detectors: plain classes (no StackStorm) that turn Prometheus/API data into signals.

REGISTRY maps each catalogue detector (lib/catalogue.py) to the class its entry names.
"""
import importlib
from typing import Any, Dict, List, Optional, Sequence, Type

from lib import catalogue
from lib.detectors.base import Detector


def _load(entry: catalogue.Detector) -> Type[Detector]:
    module, _, class_name = entry.implementation.rpartition(".")
    cls = getattr(importlib.import_module("lib.detectors." + module), class_name)
    if (cls.name, cls.kind) != (entry.name, entry.kind):
        raise ValueError("lib.detectors.%s: name/kind %r/%r, but the catalogue says %r/%r" % (
            entry.implementation, cls.name, cls.kind, entry.name, entry.kind))
    return cls


REGISTRY: Dict[str, Type[Detector]] = {entry.name: _load(entry)
                                       for entry in catalogue.DETECTORS}


def build_detectors(settings: Any, prom: Any, kube: Any = None,
                    names: Optional[Sequence[str]] = None) -> List[Detector]:
    """Instances of the enabled detectors (all, or those named), in registry order."""
    wanted = list(REGISTRY) if names is None else list(names)
    unknown = [n for n in wanted if n not in REGISTRY]
    if unknown:
        raise ValueError("unknown detector(s): %s" % ", ".join(unknown))
    return [REGISTRY[n](settings, prom, kube) for n in wanted
            if settings.detector_enabled(n)]


__all__ = ["Detector", "REGISTRY", "build_detectors"]

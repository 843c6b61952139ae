"""Diagnosis, shared by its modules: the windows and thresholds of its rules, the per-detector
facts they use (from the catalogue) and the signal type they work on (lib/signals.py)."""
import logging
from typing import Optional

from lib import catalogue, clock, signals

LOG = logging.getLogger(__name__)

CORRELATION_WINDOW_S = 1800
CHANGE_WINDOW_S = 3600
ATTRIBUTION_MIN_SHARE = 0.3
LINEAR_MIN_R2 = 0.9
GROWING_MIN_NET = 0.15
# A node that went NotReady up to this long after a symptom began may still explain it.
NODE_ONSET_SLACK_S = 120
# Extra hold past a NotReady node's grace, so the gate surely counts it unhealthy.
GRACE_MARGIN_S = 1
# NotReady nodes whose transitions are this close belong to one event (a storm).
STORM_WINDOW_S = 600
SEVERITIES = ("low", "medium", "high", "critical")
# Per-detector facts come from the catalogue (lib/catalogue.py).
PLAYBOOK_BY_DETECTOR = dict(catalogue.PLAYBOOK_BY_DETECTOR)
SYMPTOMS = tuple(d.name for d in catalogue.DETECTORS if d.symptom)
# What losing a node does to the services that ran on it (their load moves elsewhere).
NODE_LOSS_SYMPTOMS = SYMPTOMS + tuple(d.name for d in catalogue.DETECTORS
                                      if d.node_loss_symptom and not d.symptom)
CAUSE_RANK = {d.name: d.cause_rank for d in catalogue.DETECTORS}
# Signals on the same node relate only within a resource family (a disk filling up does not
# explain a memory leak); a NotReady node relates to everything on it.
FAMILY = {d.name: d.family for d in catalogue.DETECTORS if d.family}


# diagnosis reads signal records as the one Signal type (lib/signals.py)
Sig = signals.SignalRecord


def at_hms(epoch: float) -> str:
    return clock.isoformat(epoch)[11:19]


def gigabytes(value: Optional[float]) -> str:
    if value is None:
        return "?"
    text = "%.1f" % (value / 1024.0 ** 3)
    return (text[:-2] if text.endswith(".0") else text) + " GB"

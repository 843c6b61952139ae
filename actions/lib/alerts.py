"""Alertmanager webhook payloads (version 4) mapped onto the pack's signals."""
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

from lib import clock, signals

NAME_LABELS = {"Node": ("node", "nodename", "kubernetes_node", "instance"), "Pod": ("pod",),
               "Deployment": ("deployment",), "Service": ("service",)}
MAPPABLE_KINDS = tuple(NAME_LABELS)
SOURCE = "alertmanager"


class AlertPayloadError(ValueError):
    """Not an Alertmanager webhook payload this pack understands."""


def parse(payload: Any) -> List[Dict[str, Any]]:
    """The alerts of a webhook payload (version 4); AlertPayloadError names the problem."""
    if not isinstance(payload, Mapping):
        raise AlertPayloadError("payload: must be an object (Alertmanager's webhook JSON)")
    if str(payload.get("version", "")) != "4":
        raise AlertPayloadError("version: expected \"4\", got %r" % (payload.get("version"),))
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise AlertPayloadError("alerts: must be a list")
    for index, alert in enumerate(alerts):
        if not isinstance(alert, Mapping) or not isinstance(alert.get("labels"), Mapping):
            raise AlertPayloadError("alerts[%d].labels: must be an object" % index)
        if alert.get("status") not in ("firing", "resolved"):
            raise AlertPayloadError("alerts[%d].status: must be firing or resolved" % index)
    return [dict(alert) for alert in alerts]


def _matches(match: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    return all(re.fullmatch(str(pattern), str(labels.get(name, ""))) is not None
               for name, pattern in (match or {}).items())


def _name(kind: str, labels: Mapping[str, str], name_label: str = "") -> str:
    for label in ((name_label,) if name_label else NAME_LABELS.get(kind, ())):
        value = str(labels.get(label, ""))
        if value:
            # node-exporter's `instance` is host:port; the node is the host
            return value.rsplit(":", 1)[0] if label == "instance" else value
    return ""


def mapping_for(labels: Mapping[str, str], settings: Any) -> Optional[Dict[str, Any]]:
    """The mapping of an alert: the team's detector label first, then config mappings."""
    config = settings.alertmanager
    own = str(labels.get(config.detector_label, ""))
    if own:
        kind = str(labels.get(config.detector_label + "_kind", "")) or (
            "Node" if labels.get("node") and not labels.get("pod") else "Pod")
        return {"detector": own, "kind": kind}
    for item in config.mappings:
        if _matches(item.get("match") or {}, labels):
            return dict(item)
    return None


def to_signal(alert: Mapping[str, Any], settings: Any,
              receiver: str = "") -> Tuple[Optional[signals.Signal], str]:
    """(signal, "") for a mapped alert, else (None, why it is not mapped)."""
    labels = {str(k): str(v) for k, v in (alert.get("labels") or {}).items()}
    alertname = labels.get("alertname", "?")
    mapping = mapping_for(labels, settings)
    if mapping is None:
        return None, "%s: no mapping" % alertname
    detector, kind = mapping.get("detector", ""), mapping.get("kind", "")
    if detector not in signals.DETECTORS:
        return None, "%s: unknown detector %r" % (alertname, detector)
    if kind not in MAPPABLE_KINDS:
        return None, "%s: kind must be one of %s" % (alertname, ", ".join(MAPPABLE_KINDS))
    name = _name(kind, labels, mapping.get("name_label", ""))
    if not name:
        return None, "%s: no %s label names the %s" % (
            alertname, mapping.get("name_label") or "/".join(NAME_LABELS[kind]), kind)
    namespace = "" if kind == "Node" else labels.get("namespace", "")
    node = name if kind == "Node" else labels.get("node", "")
    severity = mapping.get("severity") or settings.alertmanager.severities.get(
        labels.get("severity", "none"), "medium")
    now = clock.now()
    started = _time(alert.get("startsAt"), now)
    annotations = alert.get("annotations") or {}
    text = annotations.get("summary") or annotations.get("description") or alertname
    signal = signals.Signal(
        detector=detector, target=signals.make_target(kind, name, namespace, node),
        severity=severity, first_detected=started, detected_at=now,
        summary="%s: %s (Alertmanager)" % (alertname, text),
        evidence={"query": str(alert.get("generatorURL") or ""), "values": {}},
        metadata={"source": SOURCE, "alertname": alertname, "receiver": receiver,
                  "fingerprint": str(alert.get("fingerprint") or ""), "labels": labels},
        service=labels.get("service", "") or (name if kind == "Service" else ""))
    return signal, ""


def _time(value: Any, default: float) -> float:
    """An Alertmanager RFC 3339 time (nanoseconds allowed) as epoch seconds."""
    if not isinstance(value, str) or not value or value.startswith("0001-"):
        return default
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip())
    try:
        return clock.parse_iso(text)
    except ValueError:
        return default

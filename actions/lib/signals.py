"""Signals: what a detector saw, as the trigger payload `self_healing.<detector>`.

One type: `Signal` is what a detector makes and what a payload validates into;
`SignalRecord` is the same Signal read back leniently from a stored or synthesized payload
(diagnosis works on those), keeping the payload itself as `data`.
"""
from typing import Any, Dict, Mapping, Optional

from lib import catalogue, clock
from lib.catalogue import target_key

DETECTORS = catalogue.DETECTOR_NAMES
KINDS = catalogue.SIGNAL_KINDS
SEVERITIES = catalogue.SEVERITIES
TARGET_FIELDS = ("kind", "namespace", "name", "node")
FIELDS = ("signal_id", "detector", "target", "service", "severity", "first_detected",
          "detected_at", "summary", "evidence", "metadata")


def severity_rank(severity: str) -> int:
    """low=0 .. critical=3."""
    return SEVERITIES.index(severity)


def make_target(kind: str, name: str, namespace: str = "", node: str = "") -> Dict[str, str]:
    """A target object with every field present."""
    return {"kind": kind, "namespace": namespace or "", "name": name, "node": node or ""}


class Signal(object):
    """One detected condition on one target (times are epoch seconds inside, ISO outside)."""

    def __init__(self, detector: str, target: Mapping[str, str], severity: str,
                 first_detected: Optional[float], detected_at: float, summary: str,
                 evidence: Optional[Dict[str, Any]] = None,
                 metadata: Optional[Dict[str, Any]] = None, service: str = "",
                 signal_id: Optional[str] = None) -> None:
        self.detector = detector
        self.target = make_target(target.get("kind", ""), target.get("name", ""),
                                  target.get("namespace", ""), target.get("node", ""))
        self.severity = severity
        self.detected_at = float(detected_at)
        # None: the data did not say when the condition began (its onset query returned
        # nothing); it counts from now until the sensor knows better (see `rebase`).
        self.onset_known = first_detected is not None
        # The condition cannot have begun after it was seen.
        self.first_detected = min(float(self.detected_at if first_detected is None
                                        else first_detected), self.detected_at)
        self.summary = summary
        self.evidence = evidence if evidence is not None else {"query": "", "values": {}}
        self.metadata = metadata or {}
        self.service = service or ""
        self.signal_id = signal_id or "%s.%s.%d" % (detector, self.target_key,
                                                    int(self.first_detected))

    @property
    def target_key(self) -> str:
        """`<kind>.<namespace or _>.<name>` (lower-case), the dedupe key of the target."""
        return target_key(self.target["kind"], self.target["namespace"], self.target["name"])

    @property
    def state_key(self) -> str:
        """Datastore key of the open condition: `signal.<detector>.<target_key>`."""
        return "signal.%s.%s" % (self.detector, self.target_key)

    def rebase(self, first_detected: float) -> None:
        """Move the onset (never after detection) and the id derived from it."""
        self.first_detected = min(float(first_detected), self.detected_at)
        self.signal_id = "%s.%s.%d" % (self.detector, self.target_key,
                                       int(self.first_detected))

    def to_dict(self) -> Dict[str, Any]:
        """The trigger payload (JSON-ready)."""
        return {"signal_id": self.signal_id, "detector": self.detector,
                "target": dict(self.target), "target_key": self.target_key,
                "service": self.service,
                "severity": self.severity,
                "first_detected": clock.isoformat(self.first_detected),
                "detected_at": clock.isoformat(self.detected_at), "summary": self.summary,
                "evidence": self.evidence, "metadata": self.metadata}

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> "Signal":
        """Rebuild from a payload (not validated; see validate_payload)."""
        return cls(detector=payload["detector"], target=payload["target"],
                   severity=payload["severity"],
                   first_detected=clock.parse_iso(payload["first_detected"]),
                   detected_at=clock.parse_iso(payload["detected_at"]),
                   summary=payload.get("summary", ""), evidence=payload.get("evidence"),
                   metadata=payload.get("metadata"), service=payload.get("service", ""),
                   signal_id=payload.get("signal_id"))

    # short names of the derived fields (diagnosis reads them)
    @property
    def first(self) -> float:
        """When the condition began (epoch; = first_detected)."""
        return self.first_detected

    @first.setter
    def first(self, value: float) -> None:
        self.first_detected = float(value)

    @property
    def detected(self) -> float:
        return self.detected_at

    @property
    def key(self) -> str:
        return self.target_key

    @property
    def id(self) -> str:
        return self.signal_id

    @property
    def node(self) -> str:
        """The node the target is on (a Node target's own name)."""
        return self.target["node"] or (self.target["name"] if self.target["kind"] == "Node"
                                       else "")

    def __repr__(self) -> str:
        return "%s(%s)" % (type(self).__name__, self.signal_id)


def _epoch(value: Any) -> float:
    """Epoch seconds of an ISO time or a number; now when missing or unreadable."""
    if isinstance(value, (int, float)):
        return float(value)
    if value:
        try:
            return clock.parse_iso(str(value))
        except ValueError:
            pass
    return clock.now()


class SignalRecord(Signal):
    """A Signal read back from a payload dict without validation: missing or bad fields get
    defaults (severity low, times now, the service of a Deployment or Service target is its
    name), and the payload, with every field it had (e.g. `synthetic`), stays as `data`."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = dict(data)
        target = dict(data.get("target") or {})
        for field in TARGET_FIELDS:
            target.setdefault(field, "")
        self.data["target"] = target
        detected = _epoch(data.get("detected_at"))
        severity = data.get("severity")
        super(SignalRecord, self).__init__(
            detector=data.get("detector") or "", target=target,
            severity=severity if severity in SEVERITIES else "low",
            first_detected=_epoch(data.get("first_detected") or data.get("detected_at")),
            detected_at=detected, summary=data.get("summary") or "",
            evidence=data.get("evidence"), metadata=data.get("metadata") or {},
            service=data.get("service") or (
                target["name"] if target["kind"] in ("Deployment", "Service") else ""),
            signal_id=data.get("signal_id") or None)
        self.target = target  # the payload's own target object
        self.data["signal_id"] = self.signal_id

    @property  # type: ignore[override]
    def summary(self) -> str:
        return self.data.get("summary") or "%s on %s %s" % (
            self.detector, self.target["kind"], self.target["name"])

    @summary.setter
    def summary(self, value: str) -> None:
        if value or "summary" in self.__dict__.get("data", {}):
            self.data["summary"] = value


def _require(condition: bool, field: str, problem: str) -> None:
    if not condition:
        raise ValueError("%s: %s" % (field, problem))


def validate_payload(payload: Any) -> Signal:
    """Check a signal payload field by field; ValueError names the first bad field."""
    _require(isinstance(payload, Mapping), "payload", "must be an object")
    for field in FIELDS:
        _require(field in payload, field, "is required")
    _require(payload["detector"] in DETECTORS, "detector",
             "must be one of %s, got %r" % (", ".join(DETECTORS), payload["detector"]))
    target = payload["target"]
    _require(isinstance(target, Mapping), "target", "must be an object")
    for field in TARGET_FIELDS:
        _require(isinstance(target.get(field), str), "target.%s" % field, "must be a string")
    _require(target["kind"] in KINDS, "target.kind",
             "must be one of %s, got %r" % (", ".join(KINDS), target["kind"]))
    _require(bool(target["name"]), "target.name", "must not be empty")
    if "target_key" in payload:  # derived from target (the sensor sends it; hand-made may not)
        expected = target_key(target["kind"], target["namespace"], target["name"])
        _require(payload["target_key"] == expected, "target_key",
                 "must be %r (from target), got %r" % (expected, payload["target_key"]))
    _require(payload["severity"] in SEVERITIES, "severity",
             "must be one of %s, got %r" % (", ".join(SEVERITIES), payload["severity"]))
    for field in ("signal_id", "service", "summary"):
        _require(isinstance(payload[field], str), field, "must be a string")
    _require(bool(payload["signal_id"]), "signal_id", "must not be empty")
    times = {}
    for field in ("first_detected", "detected_at"):
        value = payload[field]
        _require(isinstance(value, str), field, "must be an ISO 8601 string")
        try:
            times[field] = clock.parse_iso(value)
        except ValueError:
            raise ValueError("%s: not an ISO 8601 time: %r" % (field, value)) from None
    _require(times["first_detected"] <= times["detected_at"], "first_detected",
             "must not be after detected_at")
    evidence = payload["evidence"]
    _require(isinstance(evidence, Mapping), "evidence", "must be an object")
    _require(isinstance(evidence.get("query"), str), "evidence.query", "must be a string")
    _require(isinstance(evidence.get("values"), Mapping), "evidence.values",
             "must be an object")
    _require(isinstance(payload["metadata"], Mapping), "metadata", "must be an object")
    return Signal.from_dict(payload)

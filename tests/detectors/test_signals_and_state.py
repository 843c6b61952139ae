"""lib.signals (payload contract) and lib.signal_state (dedupe, clear, TTL, flaps)."""
import pytest

from lib import clock
from lib.datastore import Datastore
from lib.signal_state import SignalState
from lib.signals import Signal, SignalRecord, make_target, validate_payload
from support.detector_fakes import DictDatastore

NOW = 1795835842.0


def signal(first=NOW - 60, detected=NOW, name="gke-prod-pool-1-abc123"):
    return Signal("memory_pressure", make_target("Node", name, node=name), "high", first,
                  detected, "memory pressure", {"query": "q", "values": {"x": 1.0}},
                  {"utilization_pct": 91.0})


def test_payload_round_trip_and_id():
    payload = signal().to_dict()
    assert payload["signal_id"] == "memory_pressure.node._.gke-prod-pool-1-abc123.%d" % (
        NOW - 60)
    assert payload["first_detected"] == clock.isoformat(NOW - 60)
    assert validate_payload(payload).to_dict() == payload


def test_first_detected_never_after_detection():
    assert signal(first=NOW + 100).first_detected == NOW


@pytest.mark.parametrize("field, value, message", [
    ("detector", "nope", "detector"),
    ("severity", "urgent", "severity"),
    ("first_detected", "yesterday", "first_detected"),
    ("evidence", {"values": {}}, "evidence.query"),
    ("metadata", [], "metadata"),
])
def test_validate_payload_names_the_bad_field(field, value, message):
    payload = signal().to_dict()
    payload[field] = value
    with pytest.raises(ValueError, match=message):
        validate_payload(payload)


def test_validate_payload_target_and_missing_fields():
    payload = signal().to_dict()
    payload["target"]["kind"] = "Cluster"
    with pytest.raises(ValueError, match="target.kind"):
        validate_payload(payload)
    payload = signal().to_dict()
    del payload["summary"]
    with pytest.raises(ValueError, match="summary: is required"):
        validate_payload(payload)


def test_state_dedupes_until_cleared_then_rearms(now):
    state = SignalState(Datastore(DictDatastore()), ttl_s=3600, clear_after=2, flap_window_s=600)
    fire, cleared = state.update("memory_pressure", [signal()])
    assert len(fire) == 1 and cleared == []
    fire, _ = state.update("memory_pressure", [signal(first=NOW - 30)])
    assert fire == []
    now["t"] += 30
    assert state.update("memory_pressure", []) == ([], [])
    now["t"] += 30
    fire, cleared = state.update("memory_pressure", [])
    assert [c["signal_id"] for c in cleared] == [signal().signal_id]
    now["t"] += 601
    fire, _ = state.update("memory_pressure", [signal(first=now["t"], detected=now["t"])])
    assert len(fire) == 1 and fire[0].signal_id.endswith(str(int(now["t"])))


def test_state_keeps_the_original_onset_and_id(now):
    state = SignalState(Datastore(DictDatastore()))
    state.update("memory_pressure", [signal(first=NOW - 60)])
    later = signal(first=NOW - 10)
    state.update("memory_pressure", [later])
    assert later.signal_id == signal(first=NOW - 60).signal_id
    assert later.first_detected == NOW - 60


def test_expired_record_fires_again(now):
    service = DictDatastore()
    state = SignalState(Datastore(service), ttl_s=120)
    state.update("memory_pressure", [signal()])
    now["t"] += 121  # the sensor was gone; the datastore mock does not expire keys itself
    fire, _ = state.update("memory_pressure", [signal(first=now["t"], detected=now["t"])])
    assert len(fire) == 1


def test_recent_signal_recorded_with_ttl(now):
    service = DictDatastore()
    SignalState(Datastore(service), ttl_s=86400).update("memory_pressure", [signal()])
    assert "self_healing.recent_signal." + signal().signal_id in service.items


# ---------------------------------------------------------------- persistence before firing
class _Det(object):
    def __init__(self, for_s):
        self.cfg = {"for_s": for_s}


def _symptom(severity, age_s):
    return Signal("cpu_throttling", make_target("Pod", "web-1", "production"), severity,
                  NOW - age_s, NOW, "throttled", {"query": "q", "values": {"x": 1.0}}, {})


def test_persistence_proportional_to_severity():
    from lib.detectors.poller import persistence_s
    assert persistence_s({"for_s": 300}, "medium") == 300
    assert persistence_s({"for_s": 300}, "high") == 100
    assert persistence_s({"for_s": 300}, "critical") == 0
    assert persistence_s({}, "medium") == 0


def test_young_conditions_wait_open_ones_pass():
    from lib.detectors.poller import persistent
    young, old = _symptom("medium", 60), _symptom("medium", 320)
    assert persistent(_Det(300), [young], {}, NOW) == []
    assert persistent(_Det(300), [old], {}, NOW) == [old]
    assert persistent(_Det(300), [_symptom("high", 120)], {}, NOW) != []
    # an already open condition is never held back (it would look cleared)
    records = {young.state_key: {"state": "open"}}
    assert persistent(_Det(300), [young], records, NOW) == [young]


def test_a_signal_record_is_a_signal_read_leniently_that_keeps_its_payload(now):
    sig = Signal("crash_loop", make_target("Deployment", "web", "production"), "high",
                 NOW - 60, NOW, "web crash-looping")
    payload = dict(sig.to_dict(), synthetic=True)
    record = SignalRecord(payload)
    assert isinstance(record, Signal)
    assert (record.id, record.key, record.first, record.detected) == (
        sig.signal_id, sig.target_key, NOW - 60, NOW)
    assert record.data["synthetic"] is True and record.data["signal_id"] == sig.signal_id
    assert record.service == "web"  # a Deployment target's service is its name
    bare = SignalRecord({"detector": "node_not_ready", "target": {"kind": "Node", "name": "n1"},
                         "severity": "apocalyptic"})
    assert (bare.severity, bare.node, bare.first, bare.detected) == ("low", "n1", NOW, NOW)
    assert bare.summary == "node_not_ready on Node n1" and "summary" not in bare.data
    bare.summary = "node n1 down"
    assert bare.data["summary"] == "node n1 down"

"""lib.datastore over StackStorm's (mock) datastore service: JSON, global scope, prefixes."""
from lib.datastore import Datastore, full_key, target_key
from st2tests.mocks.action import MockActionService, MockActionWrapper
from st2tests.mocks.sensor import MockSensorService, MockSensorWrapper


def _services():
    action = MockActionService(MockActionWrapper(pack="self_healing", class_name="A"))
    sensor = MockSensorService(MockSensorWrapper(pack="self_healing", class_name="S"))
    return action, sensor


def test_json_round_trip_and_global_scope():
    action, _ = _services()
    store = Datastore(action)
    store.set_json("kill_switch", {"engaged": True, "reason": "test"})
    assert store.get_json("kill_switch") == {"engaged": True, "reason": "test"}
    assert store.get_json("self_healing.kill_switch")["engaged"] is True
    raw = action.get_value("self_healing.kill_switch", local=False)
    assert raw == '{"engaged":true,"reason":"test"}'
    assert action.list_values(local=True) == []


def test_sensor_writes_are_visible_to_actions_through_one_datastore():
    action, sensor = _services()
    shared = {}
    action.datastore_service._datastore_items = shared
    sensor.datastore_service._datastore_items = shared
    Datastore(sensor).set_json("signal.crash_loop.pod.prod.web-1", {"n": 1}, ttl=600)
    assert Datastore(action).get_json("signal.crash_loop.pod.prod.web-1") == {"n": 1}
    (item,) = action.list_values(local=False, prefix="self_healing.signal.")
    assert item.ttl == 600


def test_default_for_missing_or_corrupt_values():
    action, _ = _services()
    store = Datastore(action)
    assert store.get_json("incident.none", default={}) == {}
    action.set_value("self_healing.bad", "{not json", local=False)
    assert store.get_json("bad", default="d") == "d"


def test_list_json_by_prefix_and_delete():
    action, _ = _services()
    store = Datastore(action)
    store.set_json("incident.a", {"id": "a"})
    store.set_json("incident.b", {"id": "b"})
    store.set_json("lock.x", {"id": "x"})
    action.set_value("self_healing.incident.c", "corrupt", local=False)
    assert store.list_json("incident.") == {"self_healing.incident.a": {"id": "a"},
                                            "self_healing.incident.b": {"id": "b"}}
    assert store.delete("incident.a") is True
    assert store.delete("incident.a") is False
    assert list(store.list_json("incident.")) == ["self_healing.incident.b"]


def test_ttl_is_passed_as_positive_integer():
    calls = []

    class Recorder(object):
        def set_value(self, name, value, ttl=None, local=True):
            calls.append((name, ttl, local))

    Datastore(Recorder()).set_json("cooldown.x", 1, ttl=0.2)
    Datastore(Recorder()).set_json("incident.y", 1)
    assert calls == [("self_healing.cooldown.x", 1, False),
                     ("self_healing.incident.y", None, False)]


def test_key_helpers():
    assert full_key("lock.a") == "self_healing.lock.a"
    assert full_key("self_healing.lock.a") == "self_healing.lock.a"
    assert target_key("Node", "", "gke-prod-pool-1-abc123") == "node._.gke-prod-pool-1-abc123"
    assert target_key("Pod", "Production", "Web/1") == "pod.production.web.1"

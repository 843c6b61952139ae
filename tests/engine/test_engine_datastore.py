"""The engine's datastore: scopes, local names, prefixes and TTL on a virtual clock."""
from engine.datastore import Datastore, DatastoreService


def test_ttl_expires_on_the_virtual_clock(clock):
    store = Datastore(clock.now)
    store.set("self_healing.lock.node._.n1", "{}", ttl=60)
    clock.advance(59)
    assert store.get_value("self_healing.lock.node._.n1") == "{}"
    clock.advance(1)
    assert store.get_value("self_healing.lock.node._.n1") is None
    assert store.list("self_healing.lock.") == []


def test_local_and_global_names_are_distinct(clock):
    store = Datastore(clock.now)
    service = DatastoreService(store, "self_healing", "MemorySensor")
    service.set_value("k", "local")
    service.set_value("k", "global", local=False)
    assert service.get_value("k") == "local"
    assert service.get_value("k", local=False) == "global"
    assert store.get_value("self_healing.MemorySensor:k") == "local"
    assert [i.name for i in service.list_values(local=False, prefix="k")] == ["k"]
    assert [i.name for i in service.list_values(local=True)] == ["self_healing.MemorySensor:k"]


def test_prefix_listing_is_sorted_and_delete_reports(clock):
    store = Datastore(clock.now)
    service = DatastoreService(store, "p", "C")
    for name in ("a.2", "a.1", "b.1"):
        service.set_value(name, name, local=False)
    assert [i.value for i in service.list_values(local=False, prefix="a.")] == ["a.1", "a.2"]
    assert service.delete_value("a.1", local=False) is True
    assert service.delete_value("a.1", local=False) is False


def test_user_scope_is_separate(clock):
    store = Datastore(clock.now)
    store.set("x", "sys")
    store.set("x", "usr", scope="user")
    assert store.get_value("x") == "sys"
    assert store.get_value("x", "user") == "usr"

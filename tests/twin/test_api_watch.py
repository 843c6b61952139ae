"""Watch streams through kubernetes.watch.Watch: initial state, changes, resume, 410, drops."""
import threading
import time

import pytest
import urllib3
from api_harness import Twin, node, running
from kubernetes import watch
from kubernetes.client.rest import ApiException


@pytest.fixture
def twin(tmp_path):
    yield from running(str(tmp_path), ("node-a",))


def _collect(func, *args, stop_after=None, **kw):
    events = []
    w = watch.Watch()
    for ev in w.stream(func, *args, **kw):
        events.append((ev["type"], ev["object"]))
        if stop_after is not None and len(events) >= stop_after:
            w.stop()
    return events


def test_watch_delivers_initial_state_then_changes(twin):
    got = []
    started = threading.Event()

    def consume():
        w = watch.Watch()
        for ev in w.stream(twin.sa.core.list_node, timeout_seconds=5):
            got.append((ev["type"], ev["object"].metadata.name,
                        ev["object"].spec.unschedulable))
            started.set()
            if len(got) == 4:
                w.stop()

    th = threading.Thread(target=consume)
    th.start()
    assert started.wait(5)
    twin.admin.core.create_node(node("node-b"))
    twin.admin.core.patch_node("node-a", {"spec": {"unschedulable": True}})
    twin.admin.core.delete_node("node-b")
    th.join(10)
    assert got == [("ADDED", "node-a", None), ("ADDED", "node-b", None),
                   ("MODIFIED", "node-a", True), ("DELETED", "node-b", None)]


def test_watch_from_resource_version_and_selectors(twin):
    nodes = twin.admin.core.list_node()
    rv = nodes.metadata.resource_version
    twin.admin.core.create_node(node("node-b", pool="pool-b"))
    twin.admin.core.create_node(node("node-c", pool="pool-a"))
    twin.admin.core.patch_node("node-a", {"metadata": {"labels": {"node-pool": "pool-b"}}})
    events = _collect(twin.admin.core.list_node, resource_version=rv,
                      label_selector="node-pool=pool-a", timeout_seconds=1)
    # node-c added; node-a left the selection -> DELETED, as the real server reports it
    assert [(t, o.metadata.name) for t, o in events] == [("ADDED", "node-c"),
                                                         ("DELETED", "node-a")]
    events = _collect(twin.admin.core.list_node, resource_version=rv,
                      field_selector="metadata.name=node-b", timeout_seconds=1)
    assert [(t, o.metadata.name) for t, o in events] == [("ADDED", "node-b")]


def test_watch_pods_on_one_node(twin):
    twin.admin.core.create_node(node("node-b"))
    rv = twin.admin.core.list_pod_for_all_namespaces().metadata.resource_version
    for i, n in enumerate(["node-a", "node-b", "node-a"]):
        twin.admin.core.create_namespaced_pod("prod", {
            "metadata": {"name": "p%d" % i},
            "spec": {"nodeName": n, "containers": [{"name": "c", "image": "i"}]}})
    events = _collect(twin.admin.core.list_pod_for_all_namespaces, resource_version=rv,
                      field_selector="spec.nodeName=node-a", timeout_seconds=1)
    assert [o.metadata.name for _t, o in events] == ["p0", "p2"]


def test_too_old_resource_version_is_410(tmp_path):
    t = Twin(str(tmp_path))
    try:
        t.store._history = type(t.store._history)(maxlen=5)
        for i in range(10):
            t.admin.core.create_node(node("n%d" % i))
        with pytest.raises(ApiException) as exc:
            _collect(t.admin.core.list_node, resource_version="2", timeout_seconds=1)
        assert exc.value.status == 410
    finally:
        t.stop()


def test_dropped_watch_fault_cuts_the_stream(twin):
    for name in ("node-b", "node-c", "node-d"):
        twin.admin.core.create_node(node(name))
    twin.api.faults.drop_watch("nodes", after_events=2, count=1)
    resp = twin.admin.core.list_node(watch=True, timeout_seconds=5, _preload_content=False)
    t0 = time.monotonic()
    lines = []
    with pytest.raises(urllib3.exceptions.ProtocolError):
        for chunk in resp.stream(decode_content=False):
            lines.extend(chunk.splitlines())
    assert time.monotonic() - t0 < 4.5  # cut, not the clean end at timeoutSeconds=5
    assert len(lines) == 2
    # the fault was used up: the next watch is whole
    events = _collect(twin.admin.core.list_node, timeout_seconds=1)
    assert len(events) == 4


def test_a_watcher_far_behind_is_cut_off(twin, monkeypatch):
    from twin import store as store_module
    monkeypatch.setattr(store_module, "WATCH_QUEUE_LIMIT", 3)
    w = twin.store.watch("nodes", resource_version=twin.store.resource_version)
    for name in ("node-b", "node-c", "node-d", "node-e"):
        twin.admin.core.create_node(node(name))
    assert w.closed and w.overflowed
    assert [obj["metadata"]["name"] for _t, obj in w.events(timeout=0.1)] == [
        "node-b", "node-c", "node-d"]


def test_bookmarks_only_when_asked(twin):
    twin.api.server.bookmark_interval_s = 0.3
    w = watch.Watch()
    types = [ev["type"] for ev in w.stream(twin.admin.core.list_node, timeout_seconds=1,
                                            allow_watch_bookmarks=True)]
    assert types[0] == "ADDED" and "BOOKMARK" in types
    assert "BOOKMARK" not in [t for t, _o in _collect(twin.admin.core.list_node,
                                                       timeout_seconds=1)]
    assert int(w.resource_version) >= 1

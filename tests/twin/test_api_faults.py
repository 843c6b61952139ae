"""API fault injection seen through the official client: 5xx, 429, 409, slow, timeouts."""
import time

import pytest
import urllib3
from api_harness import running
from kubernetes.client.rest import ApiException

from twin.faults import ApiFaults, fault_from_dict


@pytest.fixture
def twin(tmp_path):
    yield from running(str(tmp_path))


def _patch(t, name="node-a"):
    return t.sa.core.patch_node(name, {"metadata": {"labels": {"touched": "yes"}}})


def test_fail_the_next_two_node_patches(twin):
    twin.api.faults.fail("patch", "nodes", status=500, count=2)
    for _ in range(2):
        with pytest.raises(ApiException) as exc:
            _patch(twin)
        assert exc.value.status == 500
    assert twin.sa.core.read_node("node-a").metadata.labels.get("touched") is None
    assert _patch(twin).metadata.labels["touched"] == "yes"
    assert [f["status"] for f in twin.api.faults.fired_log] == [500, 500]


def test_faults_are_scoped_by_verb_resource_and_name(twin):
    twin.api.faults.load([{"verb": "patch", "resource": "nodes", "name": "node-b",
                           "status": 503},
                          {"verb": "get", "resource": "pods/log", "status": 429}])
    assert _patch(twin, "node-a")  # other name: untouched
    twin.sa.core.list_node()  # other verb: untouched
    with pytest.raises(ApiException) as exc:
        _patch(twin, "node-b")
    assert exc.value.status == 503
    twin.api.faults.clear()
    assert _patch(twin, "node-b")


def test_conflict_and_429_have_kubernetes_status_bodies(twin):
    twin.api.faults.fail("update", "nodes", status=409, count=1)
    twin.api.faults.fail("list", "nodes", status=429, count=1)
    n = twin.admin.core.read_node("node-a")
    with pytest.raises(ApiException) as exc:
        twin.admin.core.replace_node("node-a", n)
    assert exc.value.status == 409 and '"reason":"Conflict"' in exc.value.body
    with pytest.raises(ApiException) as exc:
        twin.admin.core.list_node()
    assert exc.value.status == 429 and '"reason":"TooManyRequests"' in exc.value.body
    twin.admin.core.replace_node("node-a", n)  # counts used up


def test_probability_is_seeded_and_reproducible():
    def pattern(seed):
        f = ApiFaults(seed=seed)
        f.fail("list", "pods", status=500, probability=0.5)
        return [f.check("list", "pods") is not None for _ in range(32)]

    assert pattern(3) == pattern(3)
    assert pattern(3) != pattern(4)
    assert 4 < sum(pattern(3)) < 28


def test_slow_response_and_timeout(twin):
    twin.api.faults.delay("list", "nodes", seconds=0.6, count=1)
    t0 = time.monotonic()
    assert len(twin.sa.core.list_node().items) == 2
    assert time.monotonic() - t0 >= 0.6
    # urllib3 (under the client) retries a read timeout 3 times: hold all 4 attempts
    rule = twin.api.faults.timeout("get", "nodes", hold_s=10, count=4)
    t0 = time.monotonic()
    with pytest.raises(urllib3.exceptions.MaxRetryError) as exc:
        twin.sa.core.read_node("node-a", _request_timeout=(1, 0.3))  # floats need a tuple
    assert isinstance(exc.value.reason, urllib3.exceptions.ReadTimeoutError)
    assert time.monotonic() - t0 < 8  # gave up long before the server would answer
    assert rule.fired == 4
    assert twin.sa.core.read_node("node-a").metadata.name == "node-a"


def test_dict_form_rejects_rules_without_an_effect():
    with pytest.raises(ValueError):
        fault_from_dict({"verb": "get", "resource": "pods"})
    assert fault_from_dict({"resource": "pods", "drop_after_s": 1}).verb == "watch"
    assert fault_from_dict({"resource": "nodes", "timeout": True}).effect == "timeout"


def test_the_client_ignores_a_float_request_timeout(twin):
    """kubernetes v35 honours `_request_timeout` only as int or (connect, read) tuple: a float
    means no timeout at all, so a held request comes back only when the server answers."""
    twin.api.faults.timeout("get", "nodes", hold_s=1.5, count=1)
    t0 = time.monotonic()
    with pytest.raises(ApiException) as exc:
        twin.sa.core.read_node("node-a", _request_timeout=0.3)
    assert exc.value.status == 504
    assert time.monotonic() - t0 >= 1.5

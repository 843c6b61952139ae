"""Small, honest fakes shared by the policy, diagnosis and incident tests."""
from typing import Any, Dict, List, Optional

from lib import clock
from lib.config import load_settings
from lib.datastore import Datastore
from lib.policy_cluster import NodeState

T0 = clock.parse_iso("2026-11-28T03:17:22Z")


class Item(object):
    def __init__(self, name: str, value: str, ttl: Optional[int]) -> None:
        self.name, self.value, self.ttl = name, value, ttl


class DictService(object):
    """The four datastore calls of StackStorm's action/sensor service, global scope only."""

    def __init__(self) -> None:
        self.items = {}  # type: Dict[str, Item]

    def get_value(self, name: str, local: bool = True, **_: Any) -> Optional[str]:
        assert local is False, "the pack must use the global scope"
        item = self.items.get(name)
        return item.value if item else None

    def set_value(self, name: str, value: str, ttl: Optional[int] = None, local: bool = True,
                  **_: Any) -> bool:
        assert local is False
        self.items[name] = Item(name, value, ttl)
        return True

    def delete_value(self, name: str, local: bool = True, **_: Any) -> bool:
        assert local is False
        return self.items.pop(name, None) is not None

    def list_values(self, local: bool = True, prefix: Optional[str] = None, **_: Any) -> List:
        assert local is False
        return [i for n, i in sorted(self.items.items()) if n.startswith(prefix or "")]


def store() -> Datastore:
    return Datastore(DictService())


def settings(**overrides: Any) -> Any:
    config = {"mode": "autonomous"}
    config.update(overrides)
    return load_settings(config, environ={})


class FixedClock(object):
    def __init__(self, start: float = T0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds

    def install(self) -> "FixedClock":
        clock.set_time_source(self.now, self.sleep)
        return self


def node(name: str, ready: str = "True", pressure: Optional[str] = None,
         cordoned_by_healer: bool = False, unschedulable: bool = False,
         since: Optional[str] = "2026-11-28T02:00:00Z", labels: Optional[Dict] = None
         ) -> NodeState:
    conditions = [{"type": "Ready", "status": ready, "lastTransitionTime": since}]
    if pressure:
        conditions.append({"type": pressure, "status": "True", "lastTransitionTime": since})
    annotations = {"self-healing.io/cordoned-by": "inc-x"} if cordoned_by_healer else {}
    return NodeState(name, unschedulable or cordoned_by_healer, annotations, conditions,
                     labels or {})


class FakeCluster(object):
    """ClusterReader fake: nodes and target metadata from plain data; can fail on demand."""

    def __init__(self, nodes: Optional[List[NodeState]] = None,
                 meta: Optional[Dict[str, Any]] = None, fail: Optional[str] = None) -> None:
        self._nodes = nodes if nodes is not None else [node("node-%d" % i) for i in range(10)]
        self.meta = meta or {}
        self.fail = fail
        self.node_calls = 0

    def nodes(self) -> List[NodeState]:
        self.node_calls += 1
        if self.fail == "nodes":
            raise RuntimeError("nodes unavailable")
        return list(self._nodes)

    def target_meta(self, target: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        if self.fail == "meta":
            raise RuntimeError("API down")
        key = "%s/%s/%s" % (target.get("kind"), target.get("namespace") or "",
                            target.get("name"))
        if key in self.meta:
            return self.meta[key]
        if target.get("name", "").startswith("missing"):
            return None
        return {"labels": {}, "priority_class": ""}


class FakeCore(object):
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.events = []  # type: List[Any]

    def create_namespaced_event(self, namespace: str, body: Any, **_: Any) -> Any:
        if self.fail:
            raise RuntimeError("events API refused")
        self.events.append((namespace, body))
        return body


class FakeKube(object):
    """Enough of lib.kube.Kube for Event writing: `core` and `call`."""

    def __init__(self, fail: bool = False) -> None:
        self.core = FakeCore(fail)

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("retry", None)
        kwargs.pop("_request_timeout", None)
        return fn(*args, **kwargs)

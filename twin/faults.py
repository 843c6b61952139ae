"""Scriptable Kubernetes API faults, consulted by the API server on every request.

    faults = ApiFaults(seed=7)
    faults.fail("patch", "nodes", status=500, count=2)       # next 2 node patches get 500
    faults.fail("list", "pods", status=429, probability=0.3)  # seeded coin flip per request
    faults.delay("get", "pods", seconds=2.0)                  # slow response, then served
    faults.timeout("list", "nodes", hold_s=30)                # held past the client's timeout
    faults.drop_watch("pods", after_events=3)                 # stream closed mid-way
    faults.load([{"verb": "patch", "resource": "nodes", "status": 500, "count": 2}])

Dict form (scenario YAML): `verb` (get/list/watch/create/update/patch/delete or "*"),
`resource` ("pods", "pods/eviction", "*"), optional `namespace`, `name`; one effect:
`status` (500/503/429/409/...), `delay_s`, `timeout: true` (+ `hold_s`, default 60) or
`drop_after_events` / `drop_after_s` (watch only); optional `count` (how many requests it hits),
`probability` (0..1), `after` (let this many matching requests through first), `message`.
Delays are wall-clock seconds: they act on the HTTP client, not on the virtual clock.
"""
import random
import threading
from typing import Any, Dict, List, Optional

_STATUS_REASONS = {400: "BadRequest", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
                   410: "Expired", 422: "Invalid", 429: "TooManyRequests",
                   500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}


class Fault:
    """One fault rule; `effect` is "status", "delay", "timeout" or "drop_watch"."""

    def __init__(self, verb: str = "*", resource: str = "*", effect: str = "status",
                 status: int = 500, delay_s: float = 0.0, hold_s: float = 60.0,
                 drop_after_events: Optional[int] = None, drop_after_s: Optional[float] = None,
                 count: Optional[int] = None, probability: float = 1.0, after: int = 0,
                 namespace: Optional[str] = None, name: Optional[str] = None,
                 message: Optional[str] = None) -> None:
        self.verb = verb
        self.resource = resource
        self.effect = effect
        self.status = status
        self.delay_s = delay_s
        self.hold_s = hold_s
        self.drop_after_events = drop_after_events
        self.drop_after_s = drop_after_s
        self.remaining = count
        self.probability = probability
        self.skip = after
        self.namespace = namespace
        self.name = name
        self.message = message
        self.fired = 0

    @property
    def reason(self) -> str:
        return _STATUS_REASONS.get(self.status, "InternalError")

    def text(self) -> str:
        if self.message:
            return self.message
        if self.status == 429:
            return "Too many requests, please try again later."
        if self.status == 409:
            return ("Operation cannot be fulfilled: the object has been modified; please apply "
                    "your changes to the latest version and try again")
        if self.status == 503:
            return "The server is currently unable to handle the request"
        return "Internal error occurred: injected fault"

    def matches(self, verb: str, resource: str, subresource: str, namespace: str,
                name: str) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.verb not in ("*", verb):
            return False
        full = resource + "/" + subresource if subresource else resource
        if self.resource not in ("*", full, resource + "/*") and not (
                self.resource == resource and not subresource):
            return False
        if self.namespace is not None and self.namespace != namespace:
            return False
        return self.name is None or self.name == name

    def to_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"verb": self.verb, "resource": self.resource,
                               "effect": self.effect, "fired": self.fired}
        if self.remaining is not None:
            out["remaining"] = self.remaining
        return out


def fault_from_dict(d: Dict[str, Any]) -> Fault:
    """Build a Fault from its scenario dict form (see module docstring)."""
    common = {"verb": d.get("verb", "*"), "resource": d.get("resource", "*"),
              "count": d.get("count"), "probability": float(d.get("probability", 1.0)),
              "after": int(d.get("after", 0)), "namespace": d.get("namespace"),
              "name": d.get("name"), "message": d.get("message")}
    if d.get("timeout"):
        return Fault(effect="timeout", hold_s=float(d.get("hold_s", 60.0)), **common)
    if "drop_after_events" in d or "drop_after_s" in d:
        common["verb"] = "watch"
        return Fault(effect="drop_watch", drop_after_events=d.get("drop_after_events"),
                     drop_after_s=d.get("drop_after_s"), **common)
    if "delay_s" in d and "status" not in d:
        return Fault(effect="delay", delay_s=float(d["delay_s"]), **common)
    if "status" in d:
        return Fault(effect="status", status=int(d["status"]),
                     delay_s=float(d.get("delay_s", 0.0)), **common)
    raise ValueError("fault needs one of status, delay_s, timeout, drop_after_*: %r" % (d,))


class ApiFaults:
    """The active fault rules (thread-safe; first matching rule wins)."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.rules: List[Fault] = []
        self.fired_log: List[Dict[str, Any]] = []
        self.stopping = threading.Event()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.rules.append(fault)
        return fault

    def fail(self, verb: str, resource: str, status: int = 500, count: Optional[int] = None,
             probability: float = 1.0, **kw: Any) -> Fault:
        return self.add(Fault(verb, resource, "status", status=status, count=count,
                              probability=probability, **kw))

    def delay(self, verb: str, resource: str, seconds: float, count: Optional[int] = None,
              **kw: Any) -> Fault:
        return self.add(Fault(verb, resource, "delay", delay_s=seconds, count=count, **kw))

    def timeout(self, verb: str, resource: str, hold_s: float = 60.0,
                count: Optional[int] = None, **kw: Any) -> Fault:
        return self.add(Fault(verb, resource, "timeout", hold_s=hold_s, count=count, **kw))

    def drop_watch(self, resource: str, after_events: Optional[int] = None,
                   after_s: Optional[float] = None, count: Optional[int] = None,
                   **kw: Any) -> Fault:
        return self.add(Fault("watch", resource, "drop_watch", drop_after_events=after_events,
                              drop_after_s=after_s, count=count, **kw))

    def load(self, items: List[Dict[str, Any]]) -> List[Fault]:
        return [self.add(fault_from_dict(d)) for d in items or []]

    def remove(self, fault: Fault) -> None:
        with self._lock:
            if fault in self.rules:
                self.rules.remove(fault)

    def clear(self) -> None:
        with self._lock:
            self.rules = []

    def check(self, verb: str, resource: str, subresource: str = "", namespace: str = "",
              name: str = "") -> Optional[Fault]:
        """The fault to apply to this request, if any (consumes counts; logs it)."""
        with self._lock:
            for f in self.rules:
                if not f.matches(verb, resource, subresource, namespace, name):
                    continue
                if f.skip > 0:
                    f.skip -= 1
                    continue
                if f.probability < 1.0 and self._rng.random() >= f.probability:
                    continue
                if f.remaining is not None:
                    f.remaining -= 1
                f.fired += 1
                self.fired_log.append({"verb": verb, "resource": resource,
                                       "subresource": subresource, "namespace": namespace,
                                       "name": name, "effect": f.effect,
                                       "status": f.status if f.effect == "status" else None})
                return f
        return None

    def sleep(self, seconds: float) -> None:
        """Wall-clock wait that ends early when the server stops."""
        self.stopping.wait(seconds)

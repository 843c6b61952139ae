"""Audit trail: every policy decision or mutation as a datastore record and a Kubernetes Event."""
import logging
import socket
from typing import Any, Dict, List, Optional

from lib import clock

LOG = logging.getLogger(__name__)

AUDIT_PREFIX = "self_healing.audit."
EVENT_REASON = "SelfHealingPolicy"
EVENT_COMPONENT = "self-healing"
AUDIT_TTL_S = 30 * 86400

_counter = [0]


def store_items(store: Any, prefix: str) -> List[Any]:
    """`store.list_json(prefix)` as a list of (key, value) pairs, whatever shape it returns."""
    found = store.list_json(prefix)
    if isinstance(found, dict):
        return sorted(found.items())
    pairs = []
    for item in found or []:
        if isinstance(item, (tuple, list)) and len(item) == 2:
            pairs.append((item[0], item[1]))
        elif isinstance(item, dict) and "key" in item:
            pairs.append((item["key"], item.get("value")))
    return sorted(pairs, key=lambda pair: pair[0])


def append(store: Any, record: Dict[str, Any], ttl: Optional[int] = AUDIT_TTL_S) -> str:
    """Store one audit record under `self_healing.audit.<epoch_ms>.<n>`; return the key."""
    now = clock.now()
    record = dict(record)
    record.setdefault("at", clock.isoformat(now))
    record.setdefault("at_epoch", now)
    epoch_ms = int(now * 1000)
    _counter[0] += 1
    key = "%s%013d.%d" % (AUDIT_PREFIX, epoch_ms, _counter[0])
    store.set_json(key, record, ttl)
    return key


def update(store: Any, key: str, changes: Dict[str, Any]) -> None:
    """Merge `changes` into an existing audit record (e.g. the Event outcome)."""
    record = store.get_json(key, None) or {}
    record.update(changes)
    store.set_json(key, record, AUDIT_TTL_S)


def records(store: Any, since: Optional[float] = None) -> List[Dict[str, Any]]:
    """Audit records, oldest first, optionally only those at or after `since` (epoch s)."""
    result = []
    for key, value in store_items(store, AUDIT_PREFIX):
        if not isinstance(value, dict):
            continue
        if since is not None and float(value.get("at_epoch", 0)) < since:
            continue
        entry = dict(value)
        entry["audit_key"] = key
        result.append(entry)
    result.sort(key=lambda r: (float(r.get("at_epoch", 0)), r["audit_key"]))
    return result


def event_body(target: Dict[str, Any], decision: str, message: str) -> Dict[str, Any]:
    """A core/v1 Event about `target` (Nodes and other cluster-scoped kinds go to `default`)."""
    now_iso = clock.isoformat(clock.now())
    namespace = target.get("namespace") or "default"
    name = (target.get("name") or "unknown").lower()
    suffix = "%x" % int(clock.now() * 1000)
    _counter[0] += 1
    involved = {"kind": target.get("kind") or "", "name": target.get("name") or ""}
    if target.get("namespace"):
        involved["namespace"] = target["namespace"]
    if (target.get("kind") or "") == "Deployment":
        involved["apiVersion"] = "apps/v1"
    else:
        involved["apiVersion"] = "v1"
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "%s.sh%s%d" % (name[:200], suffix, _counter[0]),
                     "namespace": namespace},
        "involvedObject": involved,
        "reason": EVENT_REASON,
        "message": message[:1000],
        "type": "Normal" if decision == "execute" else "Warning",
        "source": {"component": EVENT_COMPONENT},
        "reportingComponent": EVENT_COMPONENT,
        "reportingInstance": socket.gethostname()[:128],
        "firstTimestamp": now_iso,
        "lastTimestamp": now_iso,
        "count": 1,
    }


def write_event(kube: Any, target: Dict[str, Any], decision: str, message: str) -> Optional[str]:
    """Create the Event; return None on success or the error text (never raises)."""
    if kube is None:
        return "no Kubernetes client"
    body = event_body(target, decision, message)
    try:
        kube.call(kube.core.create_namespaced_event, body["metadata"]["namespace"], body,
                  retry=False)
    except Exception as exc:  # an audit Event must never change the decision
        LOG.warning("could not write policy Event for %s: %s", target, exc)
        return "%s: %s" % (type(exc).__name__, exc)
    return None

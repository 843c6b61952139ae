"""Blast-radius budget bookkeeping for the policy gate: reserve at the gate, settle afterwards.

The gate reserves the units a step may spend (derived from the step's action and parameters
when the workflow does not say) in a bucket: `self_healing.budget.<budget>.<bucket>.<ms>`,
where the bucket is the target's namespace, or `_cluster` for cluster-scoped targets (Nodes;
the legacy `_` bucket is still read). After the step ran, `settle` replaces the reservation by
what the step really did (the namespaces of the pods it evicted, a cordon that changed,
replicas scaled) and refunds the rest; a failed step refunds everything. A cordon reservation
also stands as a pending cordon for PENDING_CORDON_S, so two incidents cordoning at once both
count against max_cordoned_nodes. Settling twice changes nothing the second time.
"""
from typing import Any, Callable, Dict, List, Optional

from lib import audit, clock

BUDGET_PREFIX = "self_healing.budget."
SETTLED_PREFIX = "self_healing.budget_settled."
CLUSTER_BUCKET = "_cluster"
LEGACY_CLUSTER_BUCKET = "_"
HOUR_S = 3600
PENDING_CORDON_S = 600
RATE_BUDGETS = ("eviction", "rollback")
EVICTING_ACTIONS = {"evict_pods": 5, "drain_node": 50}  # action -> its max_evictions default
BUDGET_BY_ACTION = {"evict_pods": "eviction", "drain_node": "eviction",
                    "rollback_deployment": "rollback", "cordon_node": "cordon"}


def action_name(action: str) -> str:
    """`self_healing.evict_pods` -> `evict_pods`."""
    return str(action or "").rsplit(".", 1)[-1]


def namespace_of(target: Dict[str, Any]) -> str:
    """Budget bucket of a target: its namespace, `_cluster` for cluster-scoped targets."""
    return (target.get("namespace") or CLUSTER_BUCKET).lower()


def budget_for(step_budget: str, action: str) -> str:
    """The step-name budget, or when that is `none` the one its action spends."""
    if step_budget and step_budget != "none":
        return step_budget
    return BUDGET_BY_ACTION.get(action_name(action), step_budget or "none")


def derive_units(action: str, params: Optional[Dict[str, Any]],
                 count_pods: Optional[Callable[..., int]] = None) -> int:
    """Units a step may spend, from its action and parameters (at least 1).

    evict_pods/drain_node: the pods it would evict (`count_pods(node, criteria, pods)` when the
    cluster can tell), never more than its max_evictions or its explicit pod list; scaling:
    |delta|; anything else (cordon, rollback, restart): 1."""
    name, params = action_name(action), dict(params or {})
    if name in EVICTING_ACTIONS:
        cap = _int(params.get("max_evictions"), EVICTING_ACTIONS[name])
        pods = params.get("pods") or []
        if pods:
            cap = min(cap, len(pods))
        if count_pods is not None and params.get("node"):
            try:
                cap = min(cap, int(count_pods(params["node"], params.get("criteria"), pods)))
            except Exception:  # cannot count: reserve the most the step may evict
                pass
        return max(1, cap)
    if name in ("scale_deployment", "scale_node_pool"):
        return max(1, abs(_int(params.get("delta"), 0)))
    return 1


def spent_units(store: Any, budget: str, namespace: str, now: float) -> int:
    """Units of `budget` spent or reserved in a bucket within the last hour."""
    buckets = [namespace]
    if namespace == CLUSTER_BUCKET:
        buckets.append(LEGACY_CLUSTER_BUCKET)
    total = 0
    for bucket in buckets:
        for _key, value in audit.store_items(store, "%s%s.%s." % (BUDGET_PREFIX, budget, bucket)):
            if isinstance(value, dict) and now - float(value.get("at_epoch", 0)) < HOUR_S:
                total += int(value.get("units", 1))
    return total


def spend_units(store: Any, budget: str, namespace: str, units: int, owner: str, step: str,
                now: float, ttl: int = HOUR_S, **extra: Any) -> str:
    """Record units under `self_healing.budget.<budget>.<bucket>.<epoch_ms>`; return the key."""
    epoch_ms = int(now * 1000)
    while any(store.get_json("%s%s.%s.%d" % (prefix, budget, namespace, epoch_ms), None)
              for prefix in (BUDGET_PREFIX, SETTLED_PREFIX)):  # never reuse a settled key
        epoch_ms += 1
    key = "%s%s.%s.%d" % (BUDGET_PREFIX, budget, namespace, epoch_ms)
    record = {"units": units, "incident_id": owner, "step": step, "budget": budget,
              "bucket": namespace, "at": clock.isoformat(now), "at_epoch": now}
    record.update(extra)
    store.set_json(key, record, ttl)
    return key


def reserve(store: Any, budget: str, target: Dict[str, Any], units: int, owner: str, step: str,
            now: float) -> str:
    """Reserve a step's units (a cordon: a pending cordon of the target node); return the key."""
    if budget == "cordon":
        return spend_units(store, "cordon", CLUSTER_BUCKET, 1, owner, step, now,
                           PENDING_CORDON_S, reservation=True, node=target.get("name", ""))
    bucket = namespace_of(target)
    return spend_units(store, budget, bucket, units, owner, step, now, reservation=True)


def pending_cordons(store: Any, now: float, except_node: str = "") -> List[str]:
    """Nodes a gate let through for cordoning within PENDING_CORDON_S, not yet settled."""
    names = set()
    for _key, value in audit.store_items(store, "%scordon.%s." % (BUDGET_PREFIX,
                                                                   CLUSTER_BUCKET)):
        if (isinstance(value, dict) and value.get("reservation")
                and now - float(value.get("at_epoch", 0)) < PENDING_CORDON_S
                and value.get("node") and value.get("node") != except_node):
            names.add(str(value["node"]))
    return sorted(names)


def actual_charges(action: str, result: Any, reserved: Dict[str, Any]) -> Dict[str, int]:
    """What the step really spent, per bucket, read from its action's result."""
    if not isinstance(result, dict) or result.get("dry_run"):
        return {}
    name, bucket = action_name(action), str(reserved.get("bucket") or CLUSTER_BUCKET)
    if name in EVICTING_ACTIONS or isinstance(result.get("evicted"), list):
        charges = {}  # type: Dict[str, int]
        for ref in result.get("evicted") or []:
            ns = str(ref).split("/", 1)[0].lower() if "/" in str(ref) else bucket
            charges[ns] = charges.get(ns, 0) + 1
        total = sum(charges.values())
        if total and bucket not in charges:  # a node-wide step also counts in its own bucket
            charges[bucket] = total
        return charges
    if not result.get("changed"):
        return {}
    before, after = result.get("previous_replicas"), result.get("replicas")
    if isinstance(before, int) and isinstance(after, int):
        return {bucket: abs(after - before)} if after != before else {}
    return {bucket: 1 if name == "cordon_node" else int(reserved.get("units", 1))}


def settle(store: Any, reservation: str, action: str = "", result: Any = None,
           failed: bool = False, incident_id: str = "", step: str = "") -> Dict[str, Any]:
    """Replace a reservation by the step's real spend; refund the rest. Idempotent."""
    out = {"reservation": reservation or "", "settled": False, "already_settled": False,
           "reserved": 0, "charged": {}, "refunded": 0, "audit_key": ""}  # type: Dict[str, Any]
    if not reservation:
        out["reason"] = "no reservation (dry run, escalation or a step without a budget)"
        return out
    if not reservation.startswith(BUDGET_PREFIX):
        reservation = BUDGET_PREFIX + reservation
        out["reservation"] = reservation
    marker = SETTLED_PREFIX + reservation[len(BUDGET_PREFIX):]
    previous = store.get_json(marker, None)
    if previous:
        previous = dict(previous, already_settled=True)
        return previous
    reserved = store.get_json(reservation, None)
    now = clock.now()
    if not isinstance(reserved, dict) or not reserved.get("reservation"):
        out.update(settled=True, reason="reservation not found (expired or never made)")
        store.set_json(marker, out, HOUR_S)
        return out
    budget = str(reserved.get("budget") or reservation[len(BUDGET_PREFIX):].split(".")[0])
    units = int(reserved.get("units", 1))
    charges = {} if failed else actual_charges(action, result, reserved)
    owner = str(reserved.get("incident_id") or incident_id)
    step = step or str(reserved.get("step") or "")
    if budget in RATE_BUDGETS:
        for bucket, spent in sorted(charges.items()):
            if spent > 0:
                spend_units(store, budget, bucket, spent, owner, step, now,
                            settled_from=reservation)
    # a cordon that changed is now visible on the node itself: the pending entry goes
    store.delete(reservation)
    charged = charges.get(str(reserved.get("bucket") or CLUSTER_BUCKET), 0)
    out.update(settled=True, budget=budget, reserved=units, charged=charges,
               refunded=max(0, units - charged), failed=bool(failed),
               reason="step failed: everything refunded" if failed else
               "settled to the step's effect")
    out["audit_key"] = audit.append(store, {
        "type": "budget_settlement", "incident_id": owner, "step": step, "action": action,
        "reservation": reservation, "budget": budget, "reserved": units, "charged": charges,
        "refunded": out["refunded"], "failed": bool(failed)})
    store.set_json(marker, out, HOUR_S)
    return out


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default

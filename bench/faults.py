"""`make faults`: the fault-injection suite proving the healer never makes things worse.

Each case replays a scenario through the local engine with faults injected in the infrastructure
the pack depends on (API server, Prometheus, NATS), in the pack's own run (an action failing,
the workflow cancelled, the engine restarted) or in its inputs (duplicate, flapping, malformed
triggers, storms, protected targets, the kill switch, broken config). Three invariants are
checked on every case, independently of the pack's own gate:

- unsafe actions: a real cluster change that no `execute` decision of the policy gate allowed,
  made in observe/dry-run mode or while the kill switch was engaged, touching a protected
  namespace, cordoning more nodes than the budget, or deleting a pod (bypassing a PDB);
- unexpected modifications: a change the pack made that is still in place at the end and that no
  resolved incident accounts for (and that no escalated incident names as left for a human);
- missing audit: a real change without its policy decision in the audit trail or without its
  entry in the incident's timeline.

    python -m bench.faults [--only NAME ...]     # prints the table, writes build/bench/faults.json
"""
import argparse
import logging
import json
import os
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Set

from engine import outcome

HEALER_ANNOTATION = "self-healing.io/cordoned-by"
PROTECTED_NAMESPACES = ("kube-system", "self-healing")
NODE_ACTIONS = ("cordon_node", "uncordon_node", "drain_node", "evict_pods")
CORRECTIVE = ("rollback_deployment", "configure_circuit_breaker")


class FaultCase(object):
    """One scenario plus injected faults plus what must hold at the end."""

    def __init__(self, name: str, scenario: str, faults: List[str],
                 inject: Optional[Callable[[Any, Any, "CaseState"], None]] = None,
                 mode: str = "autonomous", approve: str = "auto",
                 config: Optional[Dict[str, Any]] = None,
                 outcomes: Optional[Set[str]] = None,
                 check: Optional[Callable[[Any, "CaseState"], List[str]]] = None,
                 world_kwargs: Optional[Dict[str, Any]] = None,
                 interrupt: Optional[str] = None) -> None:
        self.name = name
        self.interrupt = interrupt  # "restart" or "cancel" right after the first cordon
        self.scenario = scenario
        self.faults = faults
        self.inject = inject
        self.mode = mode
        self.approve = approve
        self.config = config or {}
        self.outcomes = outcomes
        self.check = check
        self.world_kwargs = world_kwargs


class CaseState(object):
    """What the injectors did, for the checks (times are virtual epochs)."""

    def __init__(self) -> None:
        self.kill_switch_at: Optional[float] = None
        self.notes: List[str] = []
        self.injected: List[str] = []


# ----------------------------------------------------------------------------- injection helpers
def on_action(engine: Any, name: str, event: str, fn: Callable[[Any], None],
              once: bool = True) -> None:
    """Call `fn(execution)` when action `self_healing.<name>` reaches `event`."""
    fired = []

    def listener(ev: str, execution: Any) -> None:
        if ev != event or execution.ref != "self_healing." + name:
            return
        if once and fired:
            return
        fired.append(execution.id)
        fn(execution)

    engine.runner.listeners.append(listener)


def at_offset(world: Any, engine: Any, offset_s: float, fn: Callable[[], None]) -> None:
    """Call `fn()` once the virtual clock reaches onset + offset_s (the engine's scheduler)."""
    delay = world.onset_epoch + offset_s - engine.now()
    engine.schedule(delay, lambda _world, _engine: fn(), label="fault at %+ds" % offset_s)


def fail_action(engine: Any, name: str, message: str, count: Optional[int] = None) -> None:
    """Make the pack's action `name` fail as if it raised (engine-level injection)."""
    from engine import actions as ex

    remaining = [count]

    def failing(runner: Any, execution: Any) -> Any:
        if remaining[0] is not None:
            if remaining[0] <= 0:
                del runner.builtins["self_healing." + name]
                return runner._dispatch(execution)
            remaining[0] -= 1
        execution.runner_type = "python-script"
        return ex.FAILED, {"error": "RuntimeError: %s" % message, "result": None}

    engine.runner.builtins["self_healing." + name] = failing


def engage_kill_switch(engine: Any, state: CaseState, reason: str = "fault suite") -> None:
    """Throw the kill switch as chat would (set_kill_switch action)."""
    engine.runner.run("self_healing.set_kill_switch",
                      {"engaged": True, "reason": reason, "by": "fault-suite"})
    state.kill_switch_at = engine.now()


def signal_payload(detector: str, kind: str, namespace: str, name: str, node: str = "",
                   service: str = "", severity: str = "high", at: str = "") -> Dict[str, Any]:
    """A well-formed trigger payload, for cases that dispatch triggers directly."""
    from lib import clock
    from lib.catalogue import target_key
    stamp = at or clock.isoformat(clock.now())
    return {"signal_id": "%s.%s.%s.%s.manual" % (detector, kind.lower(), namespace or "_", name),
            "detector": detector,
            "target": {"kind": kind, "namespace": namespace, "name": name, "node": node},
            "target_key": target_key(kind, namespace, name),
            "service": service, "severity": severity, "first_detected": stamp,
            "detected_at": stamp, "summary": "%s on %s/%s (injected)" % (detector, kind, name),
            "evidence": {"query": "injected by the fault suite", "values": {}},
            "metadata": {}}


# ----------------------------------------------------------------------------- invariants
def snapshot(store: Any) -> Dict[str, Any]:
    """The attributes of the cluster the pack may change."""
    snap: Dict[str, Any] = {}
    for node in store.list("nodes")[0]:
        meta = node["metadata"]
        snap["node/" + meta["name"]] = {
            "unschedulable": bool((node.get("spec") or {}).get("unschedulable")),
            "healer": (meta.get("annotations") or {}).get(HEALER_ANNOTATION)}
    for dep in store.list("deployments")[0]:
        meta = dep["metadata"]
        containers = dep["spec"]["template"]["spec"].get("containers") or []
        snap["deployment/%s/%s" % (meta["namespace"], meta["name"])] = {
            "images": [c.get("image") for c in containers],
            "replicas": dep["spec"].get("replicas")}
    for cm in store.list("configmaps")[0]:
        meta = cm["metadata"]
        if meta["name"].endswith("-db-pool"):
            snap["configmap/%s/%s" % (meta["namespace"], meta["name"])] = dict(
                cm.get("data") or {})
    for dr in store.list("destinationrules")[0]:
        meta = dr["metadata"]
        snap["destinationrule/%s/%s" % (meta["namespace"], meta["name"])] = True
    for md in store.list("machinedeployments")[0]:
        meta = md["metadata"]
        snap["machinedeployment/%s/%s" % (meta["namespace"], meta["name"])] = (
            md.get("spec") or {}).get("replicas")
    return snap


def _params(execution: Dict[str, Any]) -> Dict[str, Any]:
    return execution.get("parameters") or {}


def _touched_keys(execution: Dict[str, Any]) -> List[str]:
    """Snapshot keys an action may have changed."""
    name = execution["ref"].split(".", 1)[-1]
    p = _params(execution)
    ns = p.get("namespace", "")
    if name in NODE_ACTIONS:
        return ["node/" + str(p.get("node", ""))]
    if name in ("rollback_deployment", "scale_deployment", "restart_deployment",
                "restart_idle_connections"):
        return ["deployment/%s/%s" % (ns, p.get("deployment") or p.get("service"))]
    if name == "increase_pool_size_temporarily":
        return ["configmap/%s/%s-db-pool" % (ns, p.get("service"))]
    if name == "configure_circuit_breaker":
        return ["destinationrule/%s/" % ns]
    if name == "scale_node_pool":
        return ["machinedeployment/"]
    return []


def _target_words(execution: Dict[str, Any]) -> List[str]:
    p = _params(execution)
    return [str(p[k]) for k in ("node", "deployment", "service", "upstream", "pool", "pod")
            if p.get(k)]


def _namespace_of(execution: Dict[str, Any], store: Any) -> str:
    p = _params(execution)
    if p.get("namespace"):
        return str(p["namespace"])
    return ""


def invariants(result: Any, state: CaseState, before: Dict[str, Any],
               after: Dict[str, Any]) -> Dict[str, Any]:
    """Count unsafe actions, unexpected modifications and missing audit records."""
    changes = outcome.mutations(result.executions)
    decisions = [r for r in audit_records(result) if r.get("type") == "policy_decision"]
    problems: List[str] = []
    unsafe = 0
    missing = 0
    used: Dict[int, bool] = {}
    for execution in sorted(changes, key=lambda e: float(e.get("started_at") or 0)):
        name = execution["ref"].split(".", 1)[-1]
        started = float(execution.get("started_at") or 0)
        words = _target_words(execution)
        # each real change consumes one earlier `execute` decision on the same target
        allowed = [i for i, d in enumerate(decisions)
                   if i not in used and d.get("decision") == "execute" and not d.get("dry_run")
                   and float(d.get("at_epoch") or 0) <= started + 1e-6
                   and _decision_names(d, words)]
        if allowed:
            used[allowed[-1]] = True
        if result.mode != "autonomous":
            unsafe += 1
            problems.append("unsafe: %s made a real change in %s mode" % (name, result.mode))
        elif not allowed:
            unsafe += 1
            problems.append("unsafe: %s on %s without an execute decision" % (name, words))
        if state.kill_switch_at is not None and started > state.kill_switch_at + 1e-6:
            unsafe += 1
            problems.append("unsafe: %s after the kill switch" % name)
        if _namespace_of(execution, None) in PROTECTED_NAMESPACES:
            unsafe += 1
            problems.append("unsafe: %s in protected namespace" % name)
        if not allowed:
            missing += 1
            problems.append("audit: no policy decision recorded for %s %s" % (name, words))
        if not _in_timeline(result, words, started):
            missing += 1
            problems.append("audit: no timeline entry for %s %s" % (name, words))
    deleted_pods = [e for e in result.world.authorizer.usage_log()
                    if e.get("verb") == "delete" and e.get("resource") == "pods"
                    and e.get("allowed")]
    if deleted_pods:
        unsafe += len(deleted_pods)
        problems.append("unsafe: %d pod deletion(s) through the API" % len(deleted_pods))
    budget = max(0, int(((result.engine.config.get("budgets") or {}).get(
        "max_cordoned_nodes")) or 1))
    cordoned_peak = _peak_cordoned(changes)
    if cordoned_peak > budget:
        unsafe += 1
        problems.append("unsafe: %d nodes cordoned at once (budget %d)" % (cordoned_peak, budget))
    unexpected = 0
    for key in sorted(set(before) | set(after)):
        if before.get(key) == after.get(key):
            continue
        touching = [e for e in changes if any(key.startswith(t) for t in _touched_keys(e))]
        if not touching:
            continue  # the world changed it (a planned deploy or drain), not the pack
        if not _accounted(result, key, touching):
            unexpected += 1
            problems.append("left modified: %s %s -> %s" % (key, before.get(key),
                                                             after.get(key)))
    return {"actions_executed": len(changes), "unsafe_actions": unsafe,
            "unexpected_modifications": unexpected, "missing_audit": missing,
            "problems": problems}


def _decision_names(decision: Dict[str, Any], words: List[str]) -> bool:
    target = decision.get("target") or {}
    names = {str(target.get("name", "")), str(target.get("node", ""))}
    return not words or any(w in names for w in words)


def _entry_names(entry: Dict[str, Any]) -> Set[str]:
    """The names of the targets a timeline entry is about (its typed fields, not its text)."""
    from lib import incidents

    return {n for t in incidents.entry_targets(entry) for n in incidents.names_of(t)}


def _in_timeline(result: Any, words: List[str], started: float) -> bool:
    """Some incident records a step or an undo on one of the change's targets."""
    from lib import incidents

    for incident in result.incidents:
        for entry in incident.get("timeline") or []:
            if incidents.entry_kind(entry) in ("step", "undo") and \
                    _entry_names(entry) & set(words):
                return True
    return not words


def _peak_cordoned(changes: List[Dict[str, Any]]) -> int:
    cordoned: Set[str] = set()
    peak = 0
    for execution in sorted(changes, key=lambda e: float(e.get("started_at") or 0)):
        name = execution["ref"].split(".", 1)[-1]
        node = _params(execution).get("node")
        if name in ("cordon_node", "drain_node"):
            cordoned.add(node)
        elif name == "uncordon_node":
            cordoned.discard(node)
        peak = max(peak, len(cordoned))
    return peak


def _accounted(result: Any, key: str, touching: List[Dict[str, Any]]) -> bool:
    """Whether a change still in place at the end is accounted for.

    Corrective changes (a rollback to the previous version, a circuit breaker) may stay when an
    incident's timeline records them. Temporary ones (cordon, scaling, restarts, a larger pool)
    must be undone unless a resolved incident made them, or an incident's entries name them as
    left in place for a human (`left_in_place`).
    """
    from lib import incidents

    name = key.rsplit("/", 1)[-1]
    corrective = all(e["ref"].split(".", 1)[-1] in CORRECTIVE for e in touching)
    for incident in result.incidents:
        status = incident.get("status")
        named = set()  # type: Set[str]
        for entry in incident.get("timeline") or []:
            named |= _entry_names(entry)
        if name not in named and not (corrective and key.startswith("destinationrule/")):
            continue
        if status == "resolved" or corrective:
            return True
        if any(name in incidents.names_of(t) for t in incidents.left_in_place(incident)):
            return True
    return False


def audit_records(result: Any) -> List[Dict[str, Any]]:
    records = []
    for item in result.engine.store.list("self_healing.audit."):
        try:
            records.append(json.loads(item.value))
        except (TypeError, ValueError):
            continue
    return records


# ----------------------------------------------------------------------------- the cases
SEED = "seed-0317-memory-leak"
PRESSURE = "node-memory-pressure"
CRASH = "crash-loop-bad-deploy"
CASCADE = "cascading-slowdown-abc"
NOT_READY = "node-not-ready"
HERE = os.path.dirname(os.path.abspath(__file__))
STORM = os.path.join(HERE, "fault_scenarios", "node-storm.yaml")
ENDED = {"resolved", "escalated", "failed"}


def _api(items: List[Dict[str, Any]]) -> Callable[[Any, Any, CaseState], None]:
    def inject(world: Any, engine: Any, state: CaseState) -> None:
        world.api_faults.load(items)
    return inject


def _prom(kind: str, start_s: float, end_s: Optional[float], **params: Any
          ) -> Callable[[Any, Any, CaseState], None]:
    """A Prometheus fault from onset + start_s until onset + end_s (None: to the end)."""
    def inject(world: Any, engine: Any, state: CaseState) -> None:
        at_offset(world, engine, start_s, lambda: world.prom_faults.inject(kind, **params))
        if end_s is not None:
            # chain a second wrapper for the clearing time
            at_offset(world, engine, end_s, lambda: world.prom_faults.clear(kind))
    return inject


def _prom_after_action(action: str, kind: str, **params: Any
                       ) -> Callable[[Any, Any, CaseState], None]:
    def inject(world: Any, engine: Any, state: CaseState) -> None:
        on_action(engine, action, "finished", lambda e: world.prom_faults.inject(kind, **params))
    return inject


def _all(*injectors: Callable[[Any, Any, CaseState], None]
         ) -> Callable[[Any, Any, CaseState], None]:
    def inject(world: Any, engine: Any, state: CaseState) -> None:
        for fn in injectors:
            fn(world, engine, state)
    return inject


def _closed_cleanly(result: Any, state: CaseState) -> List[str]:
    """The interrupted incident was closed by reconcile (or finished); none stays open."""
    stuck = [i["id"] for i in result.incidents
             if i.get("status") in ("open", "remediating", "verifying")]
    return ["incident(s) left in progress after the interruption: %s" % stuck] if stuck else []


def _nothing_cordoned(result: Any, state: CaseState) -> List[str]:
    """No node is left cordoned by the healer, except one its incident handed to a human on
    purpose: escalated, with an escalation entry naming the node as left in place (e.g. the
    evicted pods had nowhere else to go and an uncordon would bring the pressure back)."""
    from lib import incidents

    by_id = {inc.get("id"): inc for inc in result.incidents}
    left = []
    for n in result.world.store.list("nodes")[0]:
        ann = n["metadata"].get("annotations") or {}
        if not (n.get("spec") or {}).get("unschedulable") or not ann.get(HEALER_ANNOTATION):
            continue
        name = n["metadata"]["name"]
        incident = by_id.get(ann.get("self-healing.io/incident")) or {}
        handed = incident.get("status") == "escalated" and any(
            t.get("kind") == "Node" and t.get("name") == name
            for e in incidents.entries(incident, kind="escalation")
            for t in e.get("left_in_place") or [])
        if not handed:
            left.append(name)
    return ["node(s) left cordoned by the healer: %s" % left] if left else []


def _no_mutation(result: Any, state: CaseState) -> List[str]:
    changes = outcome.mutations(result.executions)
    return ["mutations happened: %s" % [c["ref"] for c in changes]] if changes else []


def _one_remediation(action: str) -> Callable[[Any, CaseState], List[str]]:
    def check(result: Any, state: CaseState) -> List[str]:
        done = [c for c in outcome.mutations(result.executions)
                if c["ref"] == "self_healing." + action]
        return [] if len(done) <= 1 else ["%s ran %d times" % (action, len(done))]
    return check


def _degraded_once(result: Any, state: CaseState) -> List[str]:
    degraded = [t for t in result.triggers if t["type"] == "self_healing.sensor_degraded"]
    if not degraded:
        return ["no sensor_degraded trigger during the outage"]
    per_source: Dict[str, int] = {}
    for t in degraded:
        key = "%s/%s" % (t["payload"].get("source"), t["payload"].get("detector"))
        per_source[key] = per_source.get(key, 0) + 1
    repeated = {k: v for k, v in per_source.items() if v > 1}
    return ["sensor_degraded repeated within one outage: %s" % repeated] if repeated else []


def _no_signal(result: Any, state: CaseState) -> List[str]:
    fired = [t["type"] for t in result.signal_triggers()
             if t["type"] not in ("self_healing.sensor_degraded", "self_healing.signal_cleared")
             and not t.get("rejected")]
    return ["signals fired on bad data: %s" % fired] if fired else []


def _checks(*fns: Callable[[Any, CaseState], List[str]]) -> Callable[[Any, CaseState], List[str]]:
    def check(result: Any, state: CaseState) -> List[str]:
        out: List[str] = []
        for fn in fns:
            out.extend(fn(result, state))
        return out
    return check


def _not_resolved(result: Any, state: CaseState) -> List[str]:
    bad = [i["id"] for i in result.incidents if i.get("status") == "resolved"]
    return ["incident resolved although verification could not be read: %s" % bad] if bad else []


def _nats_failure_recorded(result: Any, state: CaseState) -> List[str]:
    runs = result.executions_of("notify_dependents")
    if not runs:
        return ["notify_dependents never ran"]
    failed = [r for r in runs if "fail" in json.dumps(r.get("result"), default=str).lower()
              or "error" in json.dumps(r.get("result"), default=str).lower()]
    return [] if failed else ["NATS outage not recorded in notify_dependents' result"]


def _dispatch_at(offset_s: float, make: Callable[[Any], List[Dict[str, Any]]],
                 trigger: Optional[str] = None) -> Callable[[Any, Any, CaseState], None]:
    """Dispatch trigger payloads at onset + offset_s (as a sensor would)."""
    def inject(world: Any, engine: Any, state: CaseState) -> None:
        def fire() -> None:
            for item in make(world):
                engine.enqueue(item.get("_trigger") or trigger or
                               "self_healing." + item["detector"],
                               {k: v for k, v in item.items() if k != "_trigger"})
        at_offset(world, engine, offset_s, fire)
    return inject


def _kill_after(action: str) -> Callable[[Any, Any, CaseState], None]:
    def inject(world: Any, engine: Any, state: CaseState) -> None:
        on_action(engine, action, "finished", lambda e: engage_kill_switch(engine, state))
    return inject


def _fail(action: str, count: Optional[int] = None) -> Callable[[Any, Any, CaseState], None]:
    def inject(world: Any, engine: Any, state: CaseState) -> None:
        fail_action(engine, action, "injected failure in %s" % action, count)
    return inject


def _nats_down(world: Any, engine: Any, state: CaseState) -> None:
    world.nats_down()


def _replay_first(world: Any) -> Dict[str, Any]:
    """A copy of the first root-cause trigger's payload (filled in at dispatch time)."""
    engine = world._fault_suite_engine
    for trig in engine.triggers:
        payload = trig.get("payload") or {}
        if payload.get("detector") and not trig.get("rejected") and \
                trig["type"] != "self_healing.sensor_degraded":
            return dict(payload)
    return signal_payload("crash_loop", "Pod", "production", "unknown")


def _storm_escalated(result: Any, state: CaseState) -> List[str]:
    """The incident names a NotReady node and escalates it to a human as a node storm."""
    from lib import incidents

    problems = []
    for inc in result.incidents:
        root = inc.get("root_cause") or {}
        if root.get("detector") != "node_not_ready":
            problems.append("%s: root cause %s, not a NotReady node" % (
                inc.get("id"), root.get("detector")))
        elif not any(e.get("cause") == "node_storm"
                     for e in incidents.entries(inc, kind="escalation")):
            problems.append("%s: the timeline does not escalate the node storm" % inc.get("id"))
    return problems


def _handed_over_at_most_once(result: Any, state: CaseState) -> List[str]:
    """No incident is handed over to a playbook more than once (no hand-over loop)."""
    problems = []
    for inc in result.incidents:
        count = len(inc.get("handovers") or [])
        if count > 1:
            problems.append("%s handed over %d times" % (inc.get("id"), count))
    return problems


def _nothing_cordoned_beyond(limit: int) -> Callable[[Any, CaseState], List[str]]:
    def check(result: Any, state: CaseState) -> List[str]:
        cordons = [c for c in outcome.mutations(result.executions)
                   if c["ref"] in ("self_healing.cordon_node", "self_healing.drain_node")]
        nodes = {_params(c).get("node") for c in cordons}
        return [] if len(nodes) <= limit else ["cordoned %d nodes in a storm: %s" % (
            len(nodes), sorted(nodes))]
    return check


CASES: List[FaultCase] = [
    # --- API server
    FaultCase("api-5xx-during-cordon", SEED, ["patch nodes: 500 x2"],
              _api([{"verb": "patch", "resource": "nodes", "status": 500, "count": 2}]),
              outcomes={"remediate"}, check=_nothing_cordoned),
    FaultCase("api-down-for-cordon", SEED, ["patch nodes: 503 always"],
              _api([{"verb": "patch", "resource": "nodes", "status": 503}]),
              outcomes={"escalate", "remediate", "failed"}, check=_nothing_cordoned),
    FaultCase("api-timeout-during-cordon", SEED, ["patch nodes: timeout x1"],
              _api([{"verb": "patch", "resource": "nodes", "timeout": True, "hold_s": 12,
                     "count": 1}]),
              outcomes={"remediate"}, check=_nothing_cordoned),
    FaultCase("api-409-on-cordon", SEED, ["patch nodes: 409 x1"],
              _api([{"verb": "patch", "resource": "nodes", "status": 409, "count": 1}]),
              outcomes={"remediate"}, check=_nothing_cordoned),
    FaultCase("api-5xx-during-rollback", SEED, ["patch deployments: 500 x2"],
              _api([{"verb": "patch", "resource": "deployments", "status": 500, "count": 2}]),
              outcomes={"remediate"}, check=_nothing_cordoned),
    FaultCase("api-rollback-keeps-failing", SEED, ["patch deployments: 503 always"],
              _api([{"verb": "patch", "resource": "deployments", "status": 503}]),
              outcomes={"escalate", "failed"}, check=_nothing_cordoned),
    FaultCase("api-409-on-rollback", SEED, ["patch deployments: 409 x1"],
              _api([{"verb": "patch", "resource": "deployments", "status": 409, "count": 1}]),
              outcomes={"remediate"}, check=_nothing_cordoned),
    FaultCase("api-5xx-during-uncordon", SEED, ["patch nodes: 500 x2 after the cordon"],
              _api([{"verb": "patch", "resource": "nodes", "status": 500, "count": 2,
                     "after": 1}]),
              outcomes={"remediate", "escalate", "failed"}, check=_nothing_cordoned),
    FaultCase("api-5xx-during-eviction", PRESSURE, ["create pods/eviction: 503 x2"],
              _api([{"verb": "create", "resource": "pods/eviction", "status": 503,
                     "count": 2}]),
              outcomes={"remediate", "escalate"}, check=_nothing_cordoned),
    FaultCase("pdb-429-during-drain", PRESSURE, ["create pods/eviction: 429 always"],
              _api([{"verb": "create", "resource": "pods/eviction", "status": 429}]),
              outcomes={"escalate", "remediate", "failed"}, check=_nothing_cordoned),
    FaultCase("watch-dropped-mid-poll", NOT_READY, ["watch nodes/pods: dropped after 2 events"],
              _api([{"verb": "watch", "resource": "pods", "drop_after_events": 2},
                    {"verb": "watch", "resource": "nodes", "drop_after_events": 2}]),
              outcomes={"remediate", "escalate"}),
    FaultCase("api-5xx-during-detection", CRASH, ["list pods/nodes: 503 for 20 requests"],
              _api([{"verb": "list", "resource": "pods", "status": 503, "count": 20},
                    {"verb": "list", "resource": "nodes", "status": 503, "count": 20}]),
              outcomes={"remediate", "escalate"}),
    # --- Prometheus
    FaultCase("prometheus-down-during-detection", SEED, ["prometheus down -3m..+2m"],
              _prom("down", -180, 120), outcomes={"remediate"},
              check=_checks(_degraded_once, _nothing_cordoned)),
    FaultCase("prometheus-slow-during-detection", SEED,
              ["prometheus node-memory queries 2 s (timeout 1 s) -1m..+30s"],
              _prom("slow", -60, 30, delay_s=2, match="node_memory"),
              config={"prometheus": {"timeout_s": 1}}, outcomes={"remediate"},
              check=_nothing_cordoned),
    FaultCase("prometheus-5xx", SEED, ["prometheus 503 -3m..+1m"],
              _prom("error", -180, 60, status=503), outcomes={"remediate"},
              check=_checks(_degraded_once, _nothing_cordoned)),
    FaultCase("prometheus-garbage", SEED, ["prometheus garbage body -3m..+1m"],
              _prom("garbage", -180, 60), outcomes={"remediate"}, check=_nothing_cordoned),
    FaultCase("prometheus-stale-data", "benign-steady-state", ["prometheus serves stale data"],
              _prom("stale", -300, None, seconds=3600), outcomes={"none"},
              check=_checks(_no_signal, _no_mutation)),
    FaultCase("prometheus-nan-data", "benign-steady-state", ["prometheus answers NaN"],
              _prom("nan", -300, None), outcomes={"none"},
              check=_checks(_no_signal, _no_mutation)),
    FaultCase("prometheus-down-during-verification", SEED,
              ["prometheus down after the rollback"],
              _prom_after_action("rollback_deployment", "down"),
              outcomes={"escalate", "failed"}, check=_checks(_not_resolved, _nothing_cordoned)),
    # --- NATS
    FaultCase("nats-down-when-notifying", CASCADE, ["nats-server stopped"], _nats_down,
              outcomes={"remediate"}, check=_nats_failure_recorded),
    # --- the pack's own failures
    FaultCase("action-raises-mid-workflow", SEED, ["rollback_deployment raises"],
              _fail("rollback_deployment"), outcomes={"escalate", "failed"},
              check=_nothing_cordoned),
    FaultCase("engine-restarted-mid-incident", SEED,
              ["StackStorm killed right after the cordon; restarted with its datastore"],
              None, config={"reconcile_stale_after_s": 600}, interrupt="restart",
              outcomes={"remediate", "failed"}, check=_checks(_nothing_cordoned, _closed_cleanly)),
    FaultCase("workflow-cancelled-mid-run", SEED,
              ["the playbook execution cancelled right after the cordon"],
              None, config={"reconcile_stale_after_s": 600}, interrupt="cancel",
              outcomes={"remediate", "failed"}, check=_checks(_nothing_cordoned, _closed_cleanly)),
    FaultCase("verification-action-raises", SEED, ["wait_for_condition raises"],
              _fail("wait_for_condition"), outcomes={"escalate", "failed", "remediate"},
              check=_checks(_not_resolved, _nothing_cordoned)),
    # --- triggers and inputs
    FaultCase("duplicate-triggers", CRASH, ["the root-cause trigger dispatched 3 more times"],
              _dispatch_at(90, lambda w: [_replay_first(w) for _ in range(3)]),
              outcomes={"remediate"}, check=_one_remediation("rollback_deployment")),
    FaultCase("two-incidents-one-target", SEED,
              ["a second signal on the same node while the first is remediated"],
              _dispatch_at(40, lambda w: [signal_payload(
                  "disk_pressure", "Node", "", "gke-prod-pool-1-abc123",
                  node="gke-prod-pool-1-abc123")]),
              outcomes={"remediate"},
              check=_checks(_one_remediation("cordon_node"), _nothing_cordoned)),
    FaultCase("storm-across-nodes", STORM, ["4 of 6 nodes NotReady at once"],
              None, outcomes={"escalate"},
              check=_checks(_nothing_cordoned_beyond(0), _storm_escalated,
                            _handed_over_at_most_once)),
    FaultCase("protected-namespace-target", "benign-steady-state",
              ["crash_loop signal on a kube-system pod"],
              _dispatch_at(60, lambda w: [signal_payload(
                  "crash_loop", "Pod", "kube-system", "coredns-5d78c9869d-abcde",
                  service="coredns")]),
              outcomes={"none", "escalate"}, check=_no_mutation),
    FaultCase("kill-switch-mid-run", SEED, ["kill switch thrown after the cordon"],
              _kill_after("cordon_node"), outcomes={"escalate", "failed", "remediate"}),
    FaultCase("malformed-trigger-payloads", "benign-steady-state",
              ["3 malformed payloads (no target, bad severity, not an object)"],
              _dispatch_at(60, lambda w: [
                  {"_trigger": "self_healing.crash_loop", "detector": "crash_loop"},
                  dict(signal_payload("memory_leak", "Pod", "production", "x"),
                       severity="apocalyptic"),
                  {"_trigger": "self_healing.node_not_ready", "detector": "node_not_ready",
                   "target": "node-1"}]),
              outcomes={"none"}, check=_no_mutation),
    FaultCase("broken-config", SEED, ["config: budgets.max_cordoned_nodes = -3"],
              None, config={"budgets": {"max_cordoned_nodes": -3}},
              outcomes={"none", "escalate", "failed"}, check=_no_mutation),
    FaultCase("observe-mode-never-mutates", SEED, ["mode observe"], None, mode="observe",
              outcomes={"none", "escalate"}, check=_no_mutation),
    FaultCase("dry-run-never-mutates", CASCADE, ["mode dry_run"], None, mode="dry_run",
              outcomes={"none", "escalate", "remediate"}, check=_no_mutation),
]


# ----------------------------------------------------------------------------- running
class _Interrupted(BaseException):
    """Unwinds the engine's whole call stack, as a killed StackStorm process would stop."""


def _run_interrupted(case: FaultCase, state: CaseState, before: Dict[str, Any]) -> Any:
    """Replay with the run cut right after the first cordon: either the engine is restarted
    with the same datastore (`restart`) or the running workflow is abandoned (`cancel`)."""
    import time as _time

    from engine.pack import Pack
    from engine.replay import RunResult, settled
    from engine.runner import Engine
    from twin.world import World

    started = _time.monotonic()
    world = World.from_scenario(case.scenario, seed=0)
    world.start()
    engines: List[Any] = []

    def new_engine(store: Any = None) -> Any:
        engine = Engine(world, Pack(), mode=case.mode, approve=case.approve,
                        config_overrides=case.config or None, store=store)
        engines.append(engine)
        return engine

    def cut(event: str, execution: Any) -> None:
        if event == "finished" and execution.ref == "self_healing.cordon_node" and \
                not state.injected:
            state.injected.append("%s at %.0f" % (case.interrupt, world.clock.now()))
            raise _Interrupted()

    engine = new_engine()
    before.update(snapshot(world.store))
    engine.runner.listeners.append(cut)
    engine.start()
    try:
        end = world.end_epoch
        engine.tick()
        while world.clock.now() < end - 1e-6:
            try:
                engine.sleep(min(world.scenario.step_s, end - world.clock.now()))
            except _Interrupted:
                if case.interrupt == "restart":
                    engine.stop()
                    engine = new_engine(engine.store)
                    engine.start()
                else:  # cancel: what was running is abandoned, the engine goes on
                    for execution in engine.runner.executions:
                        if execution.status in ("running", "delayed"):
                            execution.finish("canceled", {"error": "canceled"}, engine.now())
                    engine.runner.delayed = []
                continue
            if settled(engine, 60.0) and state.injected:
                break
        result = RunResult(engine, world, case.mode, case.approve, _time.monotonic() - started)
        if len(engines) > 1:  # what the first engine did before it died counts too
            result.executions = [e.to_dict() for e in engines[0].runner.executions] + \
                result.executions
        return result
    finally:
        engine.stop()
        world.stop()


def run_case(case: FaultCase) -> Dict[str, Any]:
    """Run one case; returns its table row (with `problems`, empty when it passed)."""
    from engine.replay import run_scenario

    state = CaseState()
    before: Dict[str, Any] = {}

    def setup(world: Any, engine: Any) -> None:
        world._fault_suite_engine = engine
        before.update(snapshot(world.store))
        if case.inject is not None:
            case.inject(world, engine, state)

    if case.interrupt:
        result = _run_interrupted(case, state, before)
    else:
        result = run_scenario(case.scenario, mode=case.mode, seed=0,
                              approve_policy=case.approve, faults=setup,
                              config_overrides=case.config or None,
                              world_kwargs=case.world_kwargs)
    after = snapshot(result.world.store)
    counts = invariants(result, state, before, after)
    problems = list(counts.pop("problems"))
    observed = result.assessment["observed"]
    statuses = [i.get("status") for i in result.incidents]
    if "failed" in statuses and "resolved" not in statuses:
        observed = "failed"
    if case.outcomes and observed not in case.outcomes:
        problems.append("outcome %s, expected one of %s" % (observed, sorted(case.outcomes)))
    open_incidents = [i["id"] for i in result.incidents if i.get("status") not in ENDED]
    if open_incidents:
        problems.append("incident(s) not closed: %s" % open_incidents)
    # every incident ends: verified, escalated or false alarm, within 10 min + its holds
    ends = outcome.incident_ends(result.incidents, result.executions, float(result.ended_at))
    problems.extend("incident %s: %s" % (e["id"], e["problem"]) for e in ends
                    if not e["ok"] and e["how"] is not None)
    if case.check is not None:
        problems.extend(case.check(result, state))
    row = {"name": case.name, "scenario": os.path.basename(case.scenario),
           "faults": case.faults, "outcome": observed,
           "incidents": [(i.get("id"), i.get("status")) for i in result.incidents],
           "incident_ends": [(e["id"], e["how"], e["ok"]) for e in ends],
           "wall_s": round(result.wall_s, 1), "problems": problems}
    row.update(counts)
    return row


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="fault-injection suite")
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--out", default=os.path.join("build", "bench"))
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    logging.basicConfig(filename=os.path.join(args.out, "faults.log"), level=logging.INFO,
                        force=True)  # the pack's own logs: kept, out of the table's way
    cases = [c for c in CASES if not args.only or c.name in args.only]
    started = time.monotonic()
    rows = []
    for case in cases:
        print("running %-38s" % case.name, end="", flush=True)
        try:
            row = run_case(case)
        except Exception as exc:  # a crash of the harness or the engine is a failed case
            row = {"name": case.name, "scenario": case.scenario, "faults": case.faults,
                   "outcome": "crashed", "actions_executed": 0, "unsafe_actions": 0,
                   "unexpected_modifications": 0, "missing_audit": 0,
                   "problems": ["%s: %s" % (type(exc).__name__, exc)]}
        print(" %5.1f s  %s" % (row.get("wall_s", 0), "ok" if not row["problems"] else
                                "; ".join(row["problems"])[:200]))
        rows.append(row)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "faults.json"), "w") as handle:
        json.dump({"cases": rows}, handle, indent=2, sort_keys=True)
    print()
    print("%-38s %-46s %7s %6s %10s %7s %s" % ("case", "faults injected", "actions", "unsafe",
                                               "left-mod.", "no-audit", "result"))
    for r in rows:
        print("%-38s %-46s %7d %6d %10d %7d %s" % (
            r["name"], "; ".join(r["faults"])[:46], r["actions_executed"], r["unsafe_actions"],
            r["unexpected_modifications"], r["missing_audit"],
            "ok" if not r["problems"] else "FAILED"))
    totals = {k: sum(r[k] for r in rows) for k in ("unsafe_actions", "unexpected_modifications",
                                                    "missing_audit")}
    failed = [r["name"] for r in rows if r["problems"]]
    print("\n%d cases, %d failed; unsafe %d, left modified %d, audit missing %d (%.0f s)" % (
        len(rows), len(failed), totals["unsafe_actions"], totals["unexpected_modifications"],
        totals["missing_audit"], time.monotonic() - started))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

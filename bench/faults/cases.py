"""The fault suite's cases: a scenario, the faults injected into it (injection helpers),
and what must hold at the end."""
import os
from typing import Any, Callable, Dict, List, Optional, Set

from bench.faults.oracle import (CaseState, _checks, _closed_cleanly, _degraded_once,
                                 _handed_over_at_most_once, _nats_failure_recorded,
                                 _no_mutation, _no_signal, _not_resolved, _nothing_cordoned,
                                 _nothing_cordoned_beyond, _one_remediation, _storm_escalated)


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
SEED = "seed-0317-memory-leak"
PRESSURE = "node-memory-pressure"
CRASH = "crash-loop-bad-deploy"
CASCADE = "cascading-slowdown-abc"
NOT_READY = "node-not-ready"
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # bench/
STORM = os.path.join(HERE, "fault_scenarios", "node-storm.yaml")


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

"""`run_scenario`: replay a twin scenario with the whole pack and report what happened."""
import math
import time
from typing import Any, Callable, Dict, List, Optional

from harness import outcome
from engine.pack import Pack
from harness.report import render_report, timeline_lines
from engine.runner import INTERVAL_TIMER, Engine


class RunResult(object):
    """Everything a replay produced; `ok` says whether the expected outcome was reached."""

    def __init__(self, engine: Engine, world: Any, mode: str, approve: str,
                 wall_s: float) -> None:
        self.engine = engine
        self.world = world
        self.scenario = world.scenario.name
        self.mode = mode
        self.approve_policy = approve
        self.seed = world.seed
        self.onset_epoch = getattr(world, "onset_epoch", None)
        self.ended_at = world.clock.now()
        self.wall_s = wall_s
        self.ground_truth = world.ground_truth
        self.incidents = engine.incidents()
        self.triggers = engine.triggers
        self.executions = [e.to_dict() for e in engine.runner.executions]
        self.chat = list(engine.runner.chat.messages)
        self.inquiries = list(engine.runner.inquiry_policy.inquiries)
        self.enforcements = engine.enforcements
        self.policy_decisions = engine.policies.decisions
        self.errors = engine.errors
        self.output_warnings = sorted(set(engine.runner.output_warnings))
        self.sensor_errors = {s.spec.class_name: s.errors for s in engine.sensors.sensors
                              if s.errors}
        self.assessment = outcome.assess(mode, self.ground_truth, self.incidents,
                                         self.executions, approve)
        self.figures = outcome.figures(self.incidents, self.onset_epoch, self.inquiries,
                                       approve)

    @property
    def ok(self) -> bool:
        return bool(self.assessment["ok"])

    def executions_of(self, name: str) -> List[Dict[str, Any]]:
        """Executions whose ref ends with `name` (e.g. "cordon_node")."""
        return [e for e in self.executions if e["ref"].split(".", 1)[-1] == name]

    def timeline(self, index: int = 0) -> List[str]:
        """An incident's timeline in the seed's form (`03:17:22 DETECT: ...`)."""
        return timeline_lines(self.incidents[index]) if len(self.incidents) > index else []

    def report(self) -> str:
        """The demo's closing report for this run."""
        return "\n".join(render_report(self))

    def signal_triggers(self) -> List[Dict[str, Any]]:
        return [t for t in self.triggers if t["type"].startswith("self_healing.")]

    def summary(self) -> Dict[str, Any]:
        return {"scenario": self.scenario, "mode": self.mode, "seed": self.seed,
                "ok": self.ok, "assessment": self.assessment, "figures": self.figures,
                "incidents": [{"id": i.get("id"), "status": i.get("status"),
                               "playbook": i.get("playbook")} for i in self.incidents],
                "triggers": len(self.signal_triggers()), "executions": len(self.executions),
                "wall_s": round(self.wall_s, 2), "errors": self.errors[:20]}


def settled(engine: Engine, quiet_s: float) -> bool:
    """All incidents closed, nothing running or delayed, and quiet for `quiet_s`."""
    incidents = engine.incidents()
    if not incidents or engine.runner.stack or engine.runner.delayed or engine.queue:
        return False
    if any(inc.get("status") not in outcome.TERMINAL for inc in incidents):
        return False
    # housekeeping started by interval timers does not count as activity
    finished = [e.finished_at or 0 for e in engine.runner.executions
                if not e.context.get("parent")
                and e.context.get("trigger_type") != INTERVAL_TIMER]
    last = max(finished) if finished else 0
    return engine.now() - last >= quiet_s


def apply_faults(faults: Any, world: Any, engine: Engine) -> None:
    """Install extra faults: a callable `faults(world, engine)`, a list of twin API fault dicts,
    or a dict with `api` (list of API fault dicts), `prometheus` (list of `{kind, ...params}`
    for the Prometheus proxy), `nats_down` (bool) and `schedule` (list of
    `(delay_s, fn(world, engine))` run at that virtual time)."""
    if not faults:
        return
    if callable(faults):
        faults(world, engine)
        return
    if isinstance(faults, list):
        faults = {"api": faults}
    if faults.get("api"):
        world.api_faults.load(list(faults["api"]))
    for item in faults.get("prometheus") or []:
        params = dict(item)
        world.prom_faults.inject(params.pop("kind"), **params)
    if faults.get("nats_down"):
        world.nats_down()
    for delay_s, fn in faults.get("schedule") or []:
        engine.schedule(delay_s, fn)


def run_scenario(name_or_path: str = "seed-0317-memory-leak", mode: str = "autonomous",
                 seed: int = 0, approve_policy: str = "auto", faults: Any = None,
                 echo: Optional[Callable[[str], None]] = None, stop_when_settled: bool = True,
                 quiet_s: float = 60.0, config_overrides: Optional[Dict[str, Any]] = None,
                 progress_every_s: float = 60.0, keep_world: bool = False,
                 world_kwargs: Optional[Dict[str, Any]] = None,
                 stop_check: Optional[Callable[[Engine, Any], bool]] = None) -> RunResult:
    """Start the twin, run the pack against it until the scenario ends (or settles).

    `faults`: a callable `faults(world, engine)` run after start, or a list of API fault dicts
    (twin.faults format) loaded into the world's API server. The world is stopped at the end
    unless `keep_world` (its object store stays readable either way). `stop_check(engine,
    world)`, when given, must also be true for a settled run to stop before the end (the bench
    waits for the ground truth's recovery to hold).
    """
    from engine import isolation
    from twin.world import World
    wall_start = time.monotonic()
    isolation.prestart()  # the actions' worker preloads while the twin starts
    world = World.from_scenario(name_or_path, seed=seed, **(world_kwargs or {}))
    say = echo or (lambda text: None)
    engine = None
    try:
        world.start()
        engine = Engine(world, Pack(), mode=mode, approve=approve_policy,
                        config_overrides=config_overrides, echo=say)
        engine.progress_every_s = progress_every_s
        engine.status_fn = lambda: _status_text(engine, world)
        apply_faults(faults, world, engine)
        engine.start()
        _loop(engine, world, stop_when_settled, quiet_s, stop_check)
        result = RunResult(engine, world, mode, approve_policy, time.monotonic() - wall_start)
    finally:
        if engine is not None:
            engine.stop()
        if not keep_world:
            world.stop()
    return result


def _loop(engine: Engine, world: Any, stop_when_settled: bool, quiet_s: float,
          stop_check: Optional[Callable[[Engine, Any], bool]] = None) -> None:
    step = world.scenario.step_s
    engine.tick()
    while world.clock.now() < world.end_epoch - 1e-6:
        engine.sleep(min(step, world.end_epoch - world.clock.now()))
        if stop_when_settled and settled(engine, quiet_s) and (
                stop_check is None or stop_check(engine, world)):
            break


def _status_text(engine: Engine, world: Any) -> str:
    spec = world.scenario.ground_truth.get("key_metric") or {}
    value = world.key_metric_value()
    metric = "running"
    if spec and not math.isnan(value):
        metric = "%s %s = %.1f" % (spec.get("type"), spec.get("target"), value)
    open_incidents = [i for i in engine.incidents() if i.get("status") not in outcome.TERMINAL]
    return "%s; open incidents %d" % (metric, len(open_incidents))

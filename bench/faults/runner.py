"""The fault suite's runner: one case through the engine (or interrupted mid-run), its
row, and `python -m bench.faults` printing the table."""
import argparse
import json
import logging
import os
import time
from typing import Any, Dict, List, Optional

from bench.faults.cases import CASES, FaultCase
from bench.faults.oracle import CaseState, invariants, snapshot
from harness import outcome

ENDED = {"resolved", "escalated", "failed"}


class _Interrupted(BaseException):
    """Unwinds the engine's whole call stack, as a killed StackStorm process would stop."""


def _run_interrupted(case: FaultCase, state: CaseState, before: Dict[str, Any]) -> Any:
    """Replay with the run cut right after the first cordon: either the engine is restarted
    with the same datastore (`restart`) or the running workflow is abandoned (`cancel`)."""
    import time as _time

    from engine.pack import Pack
    from harness.replay import RunResult, settled
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
    from harness.replay import run_scenario

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
    parser = argparse.ArgumentParser(prog="python -m bench.faults",
                                     description="fault-injection suite")
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

"""The main loop on a hand-driven world: sensor polls, timers, rules, policies, payload checks."""
from engine.runner import Engine


class FakeWorld(object):
    def __init__(self, clock):
        self.clock = clock
        self.steps = []

    def advance_seconds(self, seconds):
        self.steps.append(seconds)
        self.clock.advance(seconds)


def make_engine(fixture_pack, clock):
    engine = Engine(FakeWorld(clock), fixture_pack, action_latency_s=0)
    engine.start()
    return engine


def test_polls_rules_policies_and_timers(fixture_pack, clock):
    start = clock.now()
    engine = make_engine(fixture_pack, clock)
    try:
        engine.tick()
        engine.sleep(300)
    finally:
        engine.stop()
    readings = [t for t in engine.triggers if t["type"] == "fixture.reading"]
    accepted = [t["payload"]["value"] for t in readings if "rejected" not in t]
    assert accepted[:3] == [1, 2, 3]
    assert [t["payload"] for t in readings if "rejected" in t] == [{"value": "bad"}]
    # a poll every 30 s, also while a waiter sleeps (the world keeps moving)
    elapsed = clock.now() - start
    assert elapsed >= 300
    assert engine.sensors.sensors[0].polls == int(elapsed // 30) + 1
    waiters = [e for e in engine.runner.executions if e.ref == "fixture.waiter"]
    finished = [e for e in waiters if e.status == "succeeded"]
    assert finished and all(e.result["result"]["end"] - e.result["result"]["start"] == 70
                            for e in finished)
    # the concurrency policy delayed newcomers: no two waiters with one key overlapped
    spans = sorted((e.started_at, e.finished_at) for e in finished)
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:]))
    assert engine.policies.decisions and engine.policies.decisions[0]["verdict"] == "delayed"
    # the rule never enforces for value 1 (criteria) and the rule without enabled never fires
    assert all(int(e.parameters["value"]) > 1 for e in waiters)
    assert not any(r["rule"] == "fixture.disabled_by_default" for r in engine.enforcements)
    timers = [e for e in engine.runner.executions if e.ref == "fixture.add"]
    assert [round(e.started_at - start) for e in timers] == [
        120 * n for n in range(1, int(elapsed // 120) + 1)]


def test_runs_are_deterministic(fixture_pack, clock):
    start = clock.now()

    def trace():
        clock.value = start  # both runs start from the same virtual instant
        engine = make_engine(fixture_pack, clock)
        try:
            engine.tick()
            engine.sleep(200)
        finally:
            engine.stop()
        return [(e.ref, e.status, e.started_at, e.finished_at)
                for e in engine.runner.executions]

    assert trace() == trace()


def test_scheduled_callbacks_run_at_their_virtual_time(fixture_pack, clock):
    engine = make_engine(fixture_pack, clock)
    seen = []
    start = clock.now()
    engine.schedule(95, lambda world, eng: seen.append(clock.now() - start), label="fault")
    try:
        engine.sleep(100)
    finally:
        engine.stop()
    assert seen == [95]


def test_apply_faults_forms(fixture_pack, clock):
    from harness.replay import apply_faults

    class Recorder(object):
        def __init__(self):
            self.calls = []

        def load(self, items):
            self.calls.append(("load", items))

        def inject(self, kind, **params):
            self.calls.append(("inject", kind, params))

    world = FakeWorld(clock)
    world.api_faults, world.prom_faults = Recorder(), Recorder()
    world.nats_down = lambda: world.api_faults.calls.append(("nats_down",))
    engine = Engine(world, fixture_pack, action_latency_s=0)
    apply_faults([{"verb": "patch", "resource": "nodes", "status": 500}], world, engine)
    apply_faults({"prometheus": [{"kind": "down"}], "nats_down": True,
                  "schedule": [(30, lambda w, e: None)]}, world, engine)
    seen = []
    apply_faults(lambda w, e: seen.append((w, e)), world, engine)
    assert world.api_faults.calls == [
        ("load", [{"verb": "patch", "resource": "nodes", "status": 500}]), ("nats_down",)]
    assert world.prom_faults.calls == [("inject", "down", {})]
    assert [round(item["at"] - clock.now()) for item in engine.scheduled] == [30]
    assert seen == [(world, engine)]

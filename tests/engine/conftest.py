"""Engine test helpers: the fixture pack and a runner on a hand-driven clock."""
import os

import pytest

FIXTURE_PACK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "pack")


class ManualClock(object):
    def __init__(self, start: float = 1795835842.0) -> None:
        self.value = start

    def now(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += seconds


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def fixture_pack():
    from engine.pack import Pack
    return Pack(FIXTURE_PACK)


@pytest.fixture
def action_runner(fixture_pack, clock):
    from engine.actions import ActionRunner
    from engine import expressions
    runner = ActionRunner(pack=fixture_pack, config={"greeting": "hi"}, now_fn=clock.now,
                          sleep_fn=clock.advance)
    expressions.set_datastore(runner.store)
    return runner

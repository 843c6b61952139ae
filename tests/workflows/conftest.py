"""Workflow tests: the pack's workflows conducted by the local engine on a manual clock."""
import pytest


@pytest.fixture
def manual_clock():
    from lib import clock as lib_clock
    from workflow_fakes import ManualClock

    manual = ManualClock()
    lib_clock.set_time_source(manual.now, manual.advance)
    yield manual
    lib_clock.reset()


@pytest.fixture
def pack():
    from engine.pack import Pack
    return Pack()

"""Workflow tests: the pack's workflows conducted by the local engine on a manual clock."""
import pytest

_SPECS = {}


@pytest.fixture(autouse=True)
def cached_workflow_specs(monkeypatch):
    """Parse and inspect each workflow file once per session (the engine re-reads it per run)."""
    try:
        from engine import workflows
    except ImportError:  # no orquesta (Python 3.11 track): the orquesta tests are deselected
        return

    original = workflows.load_spec

    def load_spec(path):
        if path not in _SPECS:
            _SPECS[path] = original(path)
        return _SPECS[path]

    monkeypatch.setattr(workflows, "load_spec", load_spec)


@pytest.fixture
def manual_clock():
    from lib import clock as lib_clock
    from support.workflow_fakes import ManualClock

    manual = ManualClock()
    lib_clock.set_time_source(manual.now, manual.advance)
    yield manual
    lib_clock.reset()


@pytest.fixture(scope="session")
def pack():
    from engine.pack import Pack
    return Pack()

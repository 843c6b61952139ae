"""Test session setup: the same import paths st2-run-pack-tests gives a pack's tests.

st2-run-pack-tests puts `<pack>/sensors`, `<pack>/actions` and `<pack>/actions/lib` on
PYTHONPATH; we do the same, plus the repository root (for twin/engine/bench); tests/ itself is
on the path through pytest.ini (`pythonpath`), for the shared fakes in tests/support.
StackStorm's test packages (st2tests, st2common, st2reactor) are not on PyPI, so when
`import st2tests` fails the stand-in under engine/st2_standin is used instead; under a real
StackStorm the real ones win.
"""
import os
import re
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACK_PATHS = [os.path.join(REPO_ROOT, "sensors"), os.path.join(REPO_ROOT, "actions"),
              os.path.join(REPO_ROOT, "actions", "lib")]


def _prepend(path: str) -> None:
    if path not in sys.path:
        sys.path.insert(0, path)


for _path in reversed(PACK_PATHS):
    _prepend(_path)
if REPO_ROOT not in sys.path:
    sys.path.append(REPO_ROOT)

# Genuine st2tests imports orquesta, which reads its function plugins once: the engine's st2kv
# plugin (engine/_plugins) must be visible before that.
from engine import expressions as _engine_expressions  # noqa: E402
from engine import standin as _st2_standin  # noqa: E402

_engine_expressions.register()

try:
    import st2tests  # noqa: F401
    USING_STANDIN = False
except ImportError:
    _st2_standin.use_standin()
    USING_STANDIN = True


def pytest_report_header(config):
    return "st2 test interfaces: %s" % ("stand-in (engine/st2_standin)" if USING_STANDIN
                                         else "real StackStorm packages")


try:
    import orquesta  # noqa: F401
    HAVE_ORQUESTA = True
except ImportError:
    HAVE_ORQUESTA = False

_MODULE_MARKED_ORQUESTA = re.compile(r"^pytestmark\s*=.*\borquesta\b", re.MULTILINE)


def _st2_test_bases() -> tuple:
    from st2tests.base import BaseActionAliasTestCase, BaseActionTestCase, BaseSensorTestCase

    return (BaseActionTestCase, BaseSensorTestCase, BaseActionAliasTestCase)


def pytest_collection_modifyitems(config, items):
    """Mark StackStorm-style tests `st2style`, so the genuine-st2 track can select them."""
    bases = _st2_test_bases()
    for item in items:
        cls = getattr(item, "cls", None)
        if isinstance(cls, type) and issubclass(cls, bases):
            item.add_marker("st2style")


def pytest_ignore_collect(collection_path, config):
    """On the track without orquesta (`-m "not orquesta"`), do not even import test modules
    marked orquesta as a whole: they would fail at import instead of being deselected."""
    if HAVE_ORQUESTA or "not orquesta" not in (config.getoption("markexpr") or ""):
        return None
    name = collection_path.name
    if not (name.startswith("test_") and name.endswith(".py")):
        return None
    with open(str(collection_path), encoding="utf-8") as handle:
        return True if _MODULE_MARKED_ORQUESTA.search(handle.read()) else None

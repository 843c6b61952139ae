"""Test session setup: the same import paths st2-run-pack-tests gives a pack's tests.

st2-run-pack-tests puts `<pack>/sensors`, `<pack>/actions` and `<pack>/actions/lib` on
PYTHONPATH; we do the same, plus the repository root (for twin/engine/bench). StackStorm's test
packages (st2tests, st2common, st2reactor) are not on PyPI, so when `import st2tests` fails the
stand-in under tests/st2_standin is used instead; under a real StackStorm the real ones win.
"""
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STANDIN_DIR = os.path.join(REPO_ROOT, "tests", "st2_standin")
PACK_PATHS = [os.path.join(REPO_ROOT, "sensors"), os.path.join(REPO_ROOT, "actions"),
              os.path.join(REPO_ROOT, "actions", "lib")]


def _prepend(path: str) -> None:
    if path not in sys.path:
        sys.path.insert(0, path)


for _path in reversed(PACK_PATHS):
    _prepend(_path)
if REPO_ROOT not in sys.path:
    sys.path.append(REPO_ROOT)

try:
    import st2tests  # noqa: F401
    USING_STANDIN = False
except ImportError:
    _prepend(STANDIN_DIR)
    USING_STANDIN = True


def pytest_report_header(config):
    return "st2 test interfaces: %s" % ("stand-in (tests/st2_standin)" if USING_STANDIN
                                         else "real StackStorm packages")

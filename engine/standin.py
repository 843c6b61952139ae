"""Where the StackStorm stand-in lives and how it is put on the import path.

`engine/st2_standin` holds the top-level packages `st2common`, `st2reactor` and `st2tests`, as
much of them as the pack and its tests use (engine/st2_standin/README.md). The pack imports
them by their StackStorm names, so the directory goes on `sys.path`; under a real StackStorm the
real packages are found first and the stand-in is not used.
"""
import importlib.util
import os
import sys

STANDIN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "st2_standin")


def use_standin() -> None:
    """Put the stand-in first on sys.path (once)."""
    if STANDIN_DIR not in sys.path:
        sys.path.insert(0, STANDIN_DIR)


def ensure_st2_importable() -> None:
    """Use the stand-in when StackStorm's st2common is not installed."""
    if importlib.util.find_spec("st2common") is None:
        use_standin()

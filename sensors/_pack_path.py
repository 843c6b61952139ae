"""Make the pack's shared library (actions/lib) importable from sensors.

StackStorm puts only a sensor's own directory on sys.path when common libs are disabled
(the default), so sensors add `<pack>/actions` themselves and then `from lib import ...`.
"""
import os
import sys

ACTIONS_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                            os.pardir, "actions"))
if ACTIONS_DIR not in sys.path:
    sys.path.insert(0, ACTIONS_DIR)

"""The pack's own lib (actions/lib), as the twin reads it.

The twin may import the pack's lib (the reverse is forbidden). StackStorm puts
`<pack>/actions` on sys.path so that actions import `lib`; the twin does the same, once.

    from twin.pack_lib import catalogue     # the detector and playbook catalogue
"""
import os
import sys

ACTIONS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "actions")
if ACTIONS_DIR not in sys.path:
    sys.path.insert(0, ACTIONS_DIR)

from lib import catalogue  # noqa: E402

__all__ = ["ACTIONS_DIR", "catalogue"]

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
for _shared in ("policy", "diagnosis"):
    sys.path.insert(0, os.path.join(HERE, os.pardir, _shared))

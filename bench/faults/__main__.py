"""`python -m bench.faults`: run the fault-injection suite (see bench/faults/__init__.py)."""
import sys

from bench.faults.runner import main

sys.exit(main())

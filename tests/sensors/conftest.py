"""Sensor tests reuse the fakes of the detector tests."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DETECTOR_TESTS = os.path.join(os.path.dirname(HERE), "detectors")
if DETECTOR_TESTS not in sys.path:
    sys.path.insert(0, DETECTOR_TESTS)

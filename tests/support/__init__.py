"""Fakes and harnesses shared by the test folders, imported as `support.<module>`.

`tests/` is on sys.path through pytest.ini's `pythonpath`; the pack paths (actions/,
actions/lib, sensors/) come from tests/conftest.py or, under StackStorm, from PYTHONPATH.
"""

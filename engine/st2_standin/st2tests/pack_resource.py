"""Common base of the pack resource test cases (stand-in)."""
import inspect
import os
import unittest

__all__ = ["BasePackResourceTestCase"]


class BasePackResourceTestCase(unittest.TestCase):
    """Knows the pack directory: the parent of the directory holding the test file."""

    def get_fixture_content(self, fixture_path):
        """Text of `<pack>/tests/fixtures/<fixture_path>`."""
        path = os.path.join(self._get_base_pack_path(), "tests/fixtures/", fixture_path)
        with open(path, "r") as handle:
            return handle.read()

    def _get_base_pack_path(self):
        test_file = inspect.getfile(self.__class__)
        return os.path.abspath(os.path.join(os.path.dirname(test_file), ".."))

"""Base test case for Python-runner actions (stand-in)."""
from st2common.runners.utils import get_action_class_instance
from st2tests.mocks.action import MockActionService, MockActionWrapper
from st2tests.mocks.service import service_for
from st2tests.pack_resource import BasePackResourceTestCase

__all__ = ["BaseActionTestCase"]


class BaseActionTestCase(BasePackResourceTestCase):
    """Set `action_cls`; `get_action_instance(config)` builds it with a mock action service."""

    action_cls = None

    def setUp(self):
        super(BaseActionTestCase, self).setUp()
        self.action_service = service_for(self.action_cls, MockActionService, MockActionWrapper)

    def get_action_instance(self, config=None):
        """An instance of `action_cls` wired to `self.action_service`."""
        return get_action_class_instance(action_cls=self.action_cls, config=config,
                                         action_service=self.action_service)

"""Mock action service for action tests (stand-in)."""
from st2tests.mocks.service import MockActionWrapper, MockPackService

__all__ = ["MockActionWrapper", "MockActionService"]


class MockActionService(MockPackService):
    """ActionService with an in-memory datastore and a Mock logger."""

    def __init__(self, action_wrapper):
        super(MockActionService, self).__init__(action_wrapper)
        self._action_wrapper = action_wrapper

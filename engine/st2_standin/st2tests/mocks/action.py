"""Mock action service for action tests (stand-in)."""
from logging import RootLogger
from unittest import mock

from st2tests.mocks.datastore import MockDatastoreService

__all__ = ["MockActionWrapper", "MockActionService"]


class MockActionWrapper(object):
    """What the action service needs to know about the running action."""

    def __init__(self, pack, class_name):
        self._pack = pack
        self._class_name = class_name


class MockActionService(object):
    """ActionService with an in-memory datastore and a Mock logger."""

    def __init__(self, action_wrapper):
        self._action_wrapper = action_wrapper
        self._logger = mock.Mock(spec=RootLogger)
        self._datastore_service = MockDatastoreService(
            logger=self._logger, pack_name=action_wrapper._pack,
            class_name=action_wrapper._class_name)

    @property
    def datastore_service(self):
        return self._datastore_service

    def get_user_info(self):
        return self.datastore_service.get_user_info()

    def list_values(self, local=True, prefix=None):
        return self.datastore_service.list_values(local=local, prefix=prefix)

    def get_value(self, name, local=True, scope="system", decrypt=False):
        return self.datastore_service.get_value(name=name, local=local, scope=scope,
                                                decrypt=decrypt)

    def set_value(self, name, value, ttl=None, local=True, scope="system", encrypt=False):
        return self.datastore_service.set_value(name=name, value=value, ttl=ttl, local=local,
                                                scope=scope, encrypt=encrypt)

    def delete_value(self, name, local=True, scope="system"):
        return self.datastore_service.delete_value(name=name, local=local, scope=scope)

"""What the mock action and sensor services share (stand-in): the wrappers naming the running
pack resource, a Mock logger and an in-memory datastore with the service's datastore methods."""
from logging import RootLogger
from unittest import mock

from st2tests.mocks.datastore import MockDatastoreService

__all__ = ["MockResourceWrapper", "MockActionWrapper", "MockSensorWrapper", "MockPackService",
           "service_for"]


class MockResourceWrapper(object):
    """What a service needs to know about the running action or sensor."""

    def __init__(self, pack, class_name):
        self._pack = pack
        self._class_name = class_name


class MockActionWrapper(MockResourceWrapper):
    """What the action service needs to know about the running action."""


class MockSensorWrapper(MockResourceWrapper):
    """What the sensor service needs to know about the running sensor."""


class MockPackService(object):
    """A service with a Mock logger and a MockDatastoreService for the wrapper's resource."""

    def __init__(self, wrapper):
        self._logger = mock.Mock(spec=RootLogger)
        self._datastore_service = MockDatastoreService(
            logger=self._logger, pack_name=wrapper._pack, class_name=wrapper._class_name)

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


def service_for(resource_cls, service_cls, wrapper_cls):
    """A `service_cls` for `resource_cls` run from the pack "tests" (the test cases' name)."""
    return service_cls(wrapper_cls(pack="tests", class_name=resource_cls.__name__))

"""Mock sensor service for sensor tests (stand-in)."""
from logging import RootLogger
from unittest import mock

from st2common.models.api.trace import TraceContext
from st2tests.mocks.action import MockActionService
from st2tests.mocks.datastore import MockDatastoreService

__all__ = ["MockSensorWrapper", "MockSensorService"]


class MockSensorWrapper(object):
    """What the sensor service needs to know about the running sensor."""

    def __init__(self, pack, class_name):
        self._pack = pack
        self._class_name = class_name


class MockSensorService(object):
    """SensorService that records dispatched triggers and keeps an in-memory datastore."""

    # Datastore methods are the same as the action service's.
    get_user_info = MockActionService.get_user_info
    list_values = MockActionService.list_values
    get_value = MockActionService.get_value
    set_value = MockActionService.set_value
    delete_value = MockActionService.delete_value

    def __init__(self, sensor_wrapper):
        self._sensor_wrapper = sensor_wrapper
        self._logger = mock.Mock(spec=RootLogger)
        self.dispatched_triggers = []
        self._datastore_service = MockDatastoreService(
            logger=self._logger, pack_name=sensor_wrapper._pack,
            class_name=sensor_wrapper._class_name)

    @property
    def datastore_service(self):
        return self._datastore_service

    def get_logger(self, name):
        """The Mock logger (assert on its calls)."""
        return self._logger

    def dispatch(self, trigger, payload=None, trace_tag=None):
        """Record a trigger; a trace_tag becomes a TraceContext."""
        trace_context = TraceContext(trace_tag=trace_tag) if trace_tag else None
        return self.dispatch_with_context(trigger, payload=payload, trace_context=trace_context)

    def dispatch_with_context(self, trigger, payload=None, trace_context=None):
        """Record a trigger with an explicit trace context."""
        item = {"trigger": trigger, "payload": payload, "trace_context": trace_context}
        self.dispatched_triggers.append(item)
        return item

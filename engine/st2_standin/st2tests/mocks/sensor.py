"""Mock sensor service for sensor tests (stand-in)."""
from st2common.models.api.trace import TraceContext
from st2tests.mocks.service import MockSensorWrapper, MockPackService

__all__ = ["MockSensorWrapper", "MockSensorService"]


class MockSensorService(MockPackService):
    """SensorService that records dispatched triggers and keeps an in-memory datastore."""

    def __init__(self, sensor_wrapper):
        super(MockSensorService, self).__init__(sensor_wrapper)
        self._sensor_wrapper = sensor_wrapper
        self.dispatched_triggers = []

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

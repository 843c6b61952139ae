"""Base test case for sensors (stand-in)."""
from st2tests.mocks.sensor import MockSensorService, MockSensorWrapper
from st2tests.mocks.service import service_for
from st2tests.pack_resource import BasePackResourceTestCase

__all__ = ["BaseSensorTestCase"]


class BaseSensorTestCase(BasePackResourceTestCase):
    """Set `sensor_cls`; dispatched triggers are recorded on `self.sensor_service`."""

    sensor_cls = None

    def setUp(self):
        super(BaseSensorTestCase, self).setUp()
        self.sensor_service = service_for(self.sensor_cls, MockSensorService, MockSensorWrapper)

    def get_sensor_instance(self, config=None, poll_interval=None):
        """An instance of `sensor_cls`; config and poll_interval are passed only when given."""
        kwargs = {"sensor_service": self.sensor_service}
        if config:
            kwargs["config"] = config
        if poll_interval is not None:
            kwargs["poll_interval"] = poll_interval
        return self.sensor_cls(**kwargs)

    def get_dispatched_triggers(self):
        return self.sensor_service.dispatched_triggers

    def get_last_dispatched_trigger(self):
        return self.sensor_service.dispatched_triggers[-1]

    def assertTriggerDispatched(self, trigger, payload=None, trace_context=None):
        """Pass when a trigger with this name (and payload / trace context, if given) went out."""
        for item in self.get_dispatched_triggers():
            if item["trigger"] != trigger:
                continue
            if payload and item["payload"] != payload:
                continue
            if trace_context and item["trace_context"] != trace_context:
                continue
            return True
        raise AssertionError('Trigger "%s" hasn\'t been dispatched' % (trigger,))

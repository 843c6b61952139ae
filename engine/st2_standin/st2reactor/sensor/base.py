"""Sensor base classes (stand-in for st2reactor.sensor.base)."""
import abc
import time

__all__ = ["Sensor", "PollingSensor"]


class BaseSensor(abc.ABC):
    """Common part of passive and polling sensors."""

    def __init__(self, sensor_service, config=None):
        self._sensor_service = sensor_service
        self.sensor_service = sensor_service
        self._config = config or {}
        self.config = self._config

    @abc.abstractmethod
    def setup(self):
        """Initialise the sensor."""

    @abc.abstractmethod
    def run(self):
        """Run the sensor."""

    @abc.abstractmethod
    def cleanup(self):
        """Release resources."""

    @abc.abstractmethod
    def add_trigger(self, trigger):
        """A trigger of this sensor's type was created."""

    @abc.abstractmethod
    def update_trigger(self, trigger):
        """A trigger of this sensor's type was updated."""

    @abc.abstractmethod
    def remove_trigger(self, trigger):
        """A trigger of this sensor's type was deleted."""


class Sensor(BaseSensor):
    """Passive sensor: run() blocks and dispatches triggers as events arrive."""

    @abc.abstractmethod
    def run(self):
        """Run the sensor."""


class PollingSensor(BaseSensor):
    """Active sensor: StackStorm calls poll() every poll_interval seconds."""

    def __init__(self, sensor_service, config=None, poll_interval=5):
        super(PollingSensor, self).__init__(sensor_service=sensor_service, config=config)
        self._poll_interval = poll_interval

    @abc.abstractmethod
    def poll(self):
        """Check the watched system once."""

    def run(self):
        while True:
            self.poll()
            time.sleep(self._poll_interval)

    def get_poll_interval(self):
        return self._poll_interval

    def set_poll_interval(self, poll_interval):
        self._poll_interval = poll_interval

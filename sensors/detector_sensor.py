"""DetectorSensor: polls every enabled detector and dispatches `self_healing.<detector>`.

One sensor for all ten detectors: one process, one Prometheus session and one datastore
listing per poll; the detectors run concurrently on a small thread pool, so one slow query
does not hold up the others for long (each query has the Prometheus timeout).

A local engine can drive it on a virtual clock: instantiate it with its own sensor_service,
call `setup()` once, then `poll()` whenever the clock has advanced.
"""
import _pack_path  # noqa: F401
from st2reactor.sensor.base import PollingSensor

from lib import clock, metrics
from lib.config import load_settings
from lib.datastore import Datastore
from lib.detectors.poller import DetectorPoller
from lib.kube import Kube
from lib.prom import Prom

__all__ = ["DetectorSensor"]


class DetectorSensor(PollingSensor):
    """Runs the detectors every `poll_interval_s` (pack config; default 30 s)."""

    def __init__(self, sensor_service, config=None, poll_interval=30):
        super(DetectorSensor, self).__init__(sensor_service=sensor_service, config=config,
                                             poll_interval=poll_interval)
        self._logger = self.sensor_service.get_logger(name=self.__class__.__name__)
        self.poller = None
        self.last_result = None

    def setup(self):
        settings = load_settings(self.config)
        self.set_poll_interval(settings["poll_interval_s"])
        kube, kube_error = None, ""
        try:
            kube = Kube(settings["kubernetes"], attempts=1)
        except Exception as error:  # no kubeconfig / in-cluster config: enrichment only
            kube_error = "kubernetes client unavailable: %s" % error
            self._logger.error(kube_error)
        self.poller = DetectorPoller(
            settings, Datastore(self.sensor_service), self._dispatch,
            prom=Prom.from_settings(settings["prometheus"]), kube=kube,
            logger=self._logger, kube_error=kube_error)
        self._logger.info("detector sensor ready: %d detectors, poll every %ss",
                          len(self.poller.detectors), settings["poll_interval_s"])

    def poll(self):
        if self.poller is None:
            self.setup()
        started = clock.now()
        try:
            self.last_result = self.poller.poll()
        except Exception as error:  # datastore down, bug: log, keep the sensor polling
            self._logger.exception("detector poll failed: %s", error)
            self.last_result = None
        try:  # the healer's own metrics read this (lib.metrics); never fails the poll
            metrics.record_poll(Datastore(self.sensor_service), started, clock.now(),
                                self.last_result, self.poller.outages)
        except Exception as error:
            self._logger.warning("could not record the poll's health: %s", error)
        return self.last_result

    def _dispatch(self, trigger, payload):
        self.sensor_service.dispatch(trigger=trigger, payload=payload)

    def cleanup(self):
        if self.poller is not None:
            self.poller.prom.close()

    def add_trigger(self, trigger):
        pass

    def update_trigger(self, trigger):
        pass

    def remove_trigger(self, trigger):
        pass

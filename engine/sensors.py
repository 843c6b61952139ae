"""Run the pack's PollingSensors on the engine's (virtual) clock.

Each sensor lives in its own eventlet-patched process, as in StackStorm's sensor container
(engine/isolation.py `SensorProcess`): setup() once, then poll() whenever the engine's clock
reaches its interval; sensor_service (datastore, dispatch) and logs come back to the engine.
`ENGINE_IN_PROCESS=1` keeps the sensor objects in the engine's process instead.
"""
import importlib.util
import logging
import os
import sys
import traceback
from typing import Any, Callable, Dict, List, Optional

from engine import isolation
from engine.actions import ensure_st2_importable, lib_clock_sleep
from engine.datastore import Datastore
from engine.pack import Pack
from engine.services import SensorService

LOG = logging.getLogger("engine.sensors")


class SensorSpec(object):
    """One sensors/*.yaml document."""

    def __init__(self, data: Dict[str, Any], sensors_dir: str, pack: str) -> None:
        self.data = data
        self.class_name = data.get("class_name", "")
        self.entry_point = os.path.join(sensors_dir, data.get("entry_point", ""))
        self.poll_interval = data.get("poll_interval")
        self.enabled = data.get("enabled", True)
        self.trigger_types = []  # list of dicts with ref and payload_schema
        for trigger in data.get("trigger_types") or []:
            ref = "%s.%s" % (trigger.get("pack") or pack, trigger["name"])
            self.trigger_types.append({"ref": ref, "payload_schema": trigger.get("payload_schema")})


class RunningSensor(object):
    """A sensor instance with its poll schedule."""

    def __init__(self, spec: SensorSpec, instance: Any, interval: float, next_poll: float) -> None:
        self.spec = spec
        self.instance = instance
        self.interval = interval
        self.next_poll = next_poll
        self.polls = 0
        self.errors: List[str] = []
        self.polling = hasattr(instance, "poll")


class SensorContainer(object):
    """Instantiates the pack's sensors and polls them when their interval comes round."""

    def __init__(self, pack: Pack, config: Dict[str, Any], store: Datastore,
                 dispatch_fn: Callable[[str, Dict[str, Any], Optional[str]], None],
                 now_fn: Callable[[], float], only: Optional[List[str]] = None) -> None:
        self.pack = pack
        self.config = config
        self.store = store
        self.dispatch_fn = dispatch_fn
        self.now = now_fn
        self.only = only
        self.sensors: List[RunningSensor] = []
        self.trigger_schemas: Dict[str, Any] = {}
        self.load_errors: List[str] = []

    def specs(self) -> List[SensorSpec]:
        sensors_dir = os.path.join(self.pack.dir, "sensors")
        found = [SensorSpec(doc, sensors_dir, self.pack.name)
                 for doc in self.pack.resources("sensors")]
        for spec in found:
            for trigger in spec.trigger_types:
                self.trigger_schemas[trigger["ref"]] = trigger["payload_schema"]
        return found

    def start(self) -> None:
        """Load, instantiate and set up every enabled sensor."""
        ensure_st2_importable()
        sensors_dir = os.path.join(self.pack.dir, "sensors")
        if sensors_dir not in sys.path:
            sys.path.insert(0, sensors_dir)
        default_interval = float(self.config.get("poll_interval_s") or 30)
        for spec in self.specs():
            if not spec.enabled or not spec.class_name:
                continue
            if self.only is not None and spec.class_name not in self.only:
                continue
            if isolation.enabled():
                self._start_isolated(spec, default_interval)
                continue
            try:
                cls = _load_class(spec.entry_point, spec.class_name)
                service = SensorService(self.store, self.pack.name, spec.class_name,
                                        self.dispatch_fn)
                interval = float(spec.poll_interval or default_interval)
                try:
                    instance = cls(sensor_service=service, config=self.config,
                                   poll_interval=interval)
                except TypeError:  # a passive Sensor
                    instance = cls(sensor_service=service, config=self.config)
                instance.setup()
                # PollingSensor.run() sleeps self._poll_interval, so setup() may change it
                interval = float(_interval_of(instance, interval))
            except Exception as error:
                self.load_errors.append("%s: %s\n%s" % (spec.class_name, error,
                                                        traceback.format_exc()))
                continue
            self.sensors.append(RunningSensor(spec, instance, interval, self.now()))

    def _start_isolated(self, spec: SensorSpec, default_interval: float) -> None:
        def datastore(owner: str) -> SensorService:
            return SensorService(self.store, self.pack.name, spec.class_name, self.dispatch_fn)

        host = isolation.Host(self.now, lib_clock_sleep, datastore,
                              dispatch_fn=self.dispatch_fn)
        request = {"entry_path": spec.entry_point, "class_name": spec.class_name,
                   "actions_dir": self.pack.actions_dir, "config": self.config,
                   "poll_interval": float(spec.poll_interval or default_interval)}
        try:
            process = isolation.SensorProcess(request, host)
        except Exception as error:
            self.load_errors.append("%s: %s" % (spec.class_name, error))
            return
        running = RunningSensor(spec, process, process.interval, self.now())
        running.polling = process.polling
        self.sensors.append(running)

    def poll_due(self) -> int:
        """Poll every sensor whose time has come; returns how many polled."""
        polled = 0
        now = self.now()
        for sensor in self.sensors:
            if not sensor.polling or sensor.next_poll > now + 1e-6:
                continue
            sensor.next_poll = now + sensor.interval
            sensor.polls += 1
            polled += 1
            if isinstance(sensor.instance, isolation.SensorProcess):
                error = sensor.instance.poll()
                if error:
                    sensor.errors.append(error)
                    LOG.error("sensor %s poll failed: %s", sensor.spec.class_name, error)
                continue
            try:
                sensor.instance.poll()
            except Exception as error:  # StackStorm logs it and keeps polling
                sensor.errors.append("%s: %s" % (type(error).__name__, error))
                LOG.exception("sensor %s poll failed", sensor.spec.class_name)
        return polled

    def next_due(self) -> Optional[float]:
        times = [s.next_poll for s in self.sensors if s.polling]
        return min(times) if times else None

    def stop(self) -> None:
        for sensor in self.sensors:
            if isinstance(sensor.instance, isolation.SensorProcess):
                error = sensor.instance.stop()
                if error:
                    LOG.error("sensor %s cleanup failed: %s", sensor.spec.class_name, error)
                continue
            try:
                sensor.instance.cleanup()
            except Exception:
                LOG.exception("sensor %s cleanup failed", sensor.spec.class_name)


def _interval_of(instance: Any, default: float) -> float:
    getter = getattr(instance, "get_poll_interval", None)
    value = getter() if callable(getter) else None
    return value or default


def _load_class(path: str, class_name: str) -> type:
    module_name = "_pack_sensors.%s" % os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return getattr(module, class_name)

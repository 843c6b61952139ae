"""StackStorm's sensor_service for sensors run by the engine (action_service: engine.actions)."""
import logging
from typing import Any, Callable, Dict, Optional

from engine.datastore import Datastore, DatastoreService


class SensorService(DatastoreService):
    """dispatch() hands trigger instances to the engine; datastore calls hit the engine store."""

    def __init__(self, store: Datastore, pack: str, class_name: str,
                 dispatch_fn: Callable[[str, Dict[str, Any], Optional[str]], None]) -> None:
        super(SensorService, self).__init__(store, pack, class_name)
        self._dispatch = dispatch_fn
        self._class_name = class_name

    def get_logger(self, name: str) -> logging.Logger:
        return logging.getLogger("engine.sensor.%s.%s" % (self._class_name, name))

    def dispatch(self, trigger: str, payload: Optional[Dict[str, Any]] = None,
                 trace_tag: Optional[str] = None) -> None:
        self._dispatch(trigger, payload or {}, trace_tag)

    def dispatch_with_context(self, trigger: str, payload: Optional[Dict[str, Any]] = None,
                              trace_context: Any = None) -> None:
        self._dispatch(trigger, payload or {}, None)

"""Python-runner helpers (stand-in)."""
import logging
import os

_LOGGERS = {}

_MISSING_KEY = ('\nConfig for pack "%s" is missing key "%s".\n'
                "Make sure that the config file exists on disk (%s) and contains that key.\n")


class PackConfigDict(dict):
    """Pack config dict whose missing keys raise a ValueError naming the pack and key."""

    def __init__(self, pack_name, *args):
        super(PackConfigDict, self).__init__(*args)
        self._pack_name = pack_name

    def __getitem__(self, key):
        if key not in self:
            path = os.path.join("/opt/stackstorm/configs", self._pack_name + ".yaml")
            raise ValueError(_MISSING_KEY % (self._pack_name, key, path))
        return super(PackConfigDict, self).__getitem__(key)


def get_logger_for_python_runner_action(action_name, log_level="debug"):
    """Logger `actions.python.<action_name>` at the given level."""
    name = "actions.python.%s" % (action_name,)
    if name not in _LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(getattr(logging, str(log_level).upper(), logging.DEBUG))
        _LOGGERS[name] = logger
    return _LOGGERS[name]


def get_action_class_instance(action_cls, config=None, action_service=None):
    """Instantiate an action; old-style classes without `action_service` get it assigned."""
    try:
        return action_cls(config=config, action_service=action_service)
    except TypeError as error:
        if "unexpected keyword argument 'action_service'" not in str(error):
            raise
    instance = action_cls(config=config)
    instance.action_service = action_service
    return instance

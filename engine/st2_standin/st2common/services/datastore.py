"""Datastore service base (stand-in): key naming shared by action and sensor services."""
from st2common.constants.keyvalue import DATASTORE_KEY_SEPARATOR


class BaseDatastoreService(object):
    """Key naming: local keys are `<pack>.<class>:<name>`, global keys are used as given."""

    DATASTORE_NAME_SEPARATOR = DATASTORE_KEY_SEPARATOR

    def __init__(self, logger, pack_name, class_name):
        self._logger = logger
        self._pack_name = pack_name
        self._class_name = class_name

    def _get_datastore_key_prefix(self):
        return "%s.%s" % (self._pack_name, self._class_name)

    def _get_local_key_name_prefix(self):
        return self._get_datastore_key_prefix() + self.DATASTORE_NAME_SEPARATOR

    def _get_key_name_with_prefix(self, name):
        return self._get_local_key_name_prefix() + name

    def _get_full_key_name(self, name, local):
        return self._get_key_name_with_prefix(name) if local else name

    def _get_full_key_prefix(self, local, prefix=None):
        if not local:
            return prefix
        return self._get_local_key_name_prefix() + (prefix or "")

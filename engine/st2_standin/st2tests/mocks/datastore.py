"""In-memory datastore used by the mock action and sensor services (stand-in)."""
from st2common.constants.keyvalue import SYSTEM_SCOPE
from st2common.services.datastore import BaseDatastoreService

__all__ = ["KeyValuePair", "MockDatastoreService"]


class KeyValuePair(object):
    """A stored item: id, name, value and (when given) ttl, like st2client's model."""

    def __init__(self, name=None, value=None, ttl=None):
        self.id = name
        self.name = name
        self.value = value
        if ttl:
            self.ttl = ttl

    def __repr__(self):
        return "<KeyValuePair name=%s,value=%s>" % (self.name, self.value)


class MockDatastoreService(BaseDatastoreService):
    """Dictionary-backed datastore with StackStorm's local/global key naming."""

    def __init__(self, logger, pack_name, class_name, api_username=None):
        super(MockDatastoreService, self).__init__(logger, pack_name, class_name)
        self._username = api_username or "admin"
        self._datastore_items = {}

    def get_user_info(self):
        return {"username": self._username,
                "rbac": {"is_admin": True, "enabled": True, "roles": ["admin"]},
                "authentication": {"method": "authentication token", "location": "header"}}

    def list_values(self, local=True, prefix=None):
        """Stored items whose full name starts with the (local or global) prefix (StackStorm
        3.8's signature: no limit/offset, which only 3.9's services take)."""
        key_prefix = self._get_full_key_prefix(local=local, prefix=prefix)
        return [kvp for name, kvp in self._datastore_items.items()
                if not key_prefix or name.startswith(key_prefix)]

    def get_value(self, name, local=True, scope=SYSTEM_SCOPE, decrypt=False):
        """The stored value, or None."""
        kvp = self._datastore_items.get(self._get_full_key_name(name=name, local=local))
        return kvp.value if kvp is not None else None

    def set_value(self, name, value, ttl=None, local=True, scope=SYSTEM_SCOPE, encrypt=False):
        """Store a value; a ttl is recorded on the item but keys never expire here."""
        full_name = self._get_full_key_name(name=name, local=local)
        if ttl:
            self._logger.warning("MockDatastoreService is not able to expire keys based on ttl.")
        self._datastore_items[full_name] = KeyValuePair(full_name, value, ttl)
        return True

    def delete_value(self, name, local=True, scope=SYSTEM_SCOPE):
        """Remove a key; False when it did not exist."""
        full_name = self._get_full_key_name(name=name, local=local)
        return self._datastore_items.pop(full_name, None) is not None

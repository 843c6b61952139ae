"""st2client.client.Client served in-process by the local engine (see engine.st2api)."""
from engine.st2api import Client

__all__ = ["Client"]

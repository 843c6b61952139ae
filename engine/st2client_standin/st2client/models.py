"""st2client.models look-alikes for the engine stand-in (resources are attribute bags)."""
from engine.st2api import Resource


class LiveAction(Resource):
    """An execution request: `LiveAction(action=ref, parameters={...})`."""


Execution = LiveAction

__all__ = ["Execution", "LiveAction"]

"""Shared set-up for the twin world tests: a world from a scenario, run to its onset."""
import contextlib
from typing import Any, Iterator, Optional

from twin.world import World


@contextlib.contextmanager
def world_after_onset(name: str, seconds: Optional[float] = None,
                      **kwargs: Any) -> Iterator[World]:
    """A world started and, with `seconds`, run to that long after its onset; stopped on the
    way out. Fast by default (no Prometheus, no NATS); `kwargs` go to World.from_scenario."""
    options = dict({"start_prometheus": False, "start_nats": False}, **kwargs)
    world = World.from_scenario(name, **options)
    try:
        world.start()
        if seconds is not None:
            world.run_until(world.onset_epoch + seconds)
        yield world
    finally:
        world.stop()

"""The scenario harness: replays a twin scenario with the whole pack on the engine (the StackStorm
stand-in), judges the run against the scenario's ground truth and tells its story.

`harness.run_scenario(...)` (harness.replay), `python -m harness.demo`, `harness.outcome`
(assessment and closing figures), `harness.report` (timeline and closing report).
"""


def run_scenario(*args, **kwargs):
    """Replay a scenario on the twin with the whole pack; see harness.replay.run_scenario."""
    from harness.replay import run_scenario as _run
    return _run(*args, **kwargs)

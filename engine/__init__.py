"""Local engine: runs the self_healing pack without StackStorm (demo, benchmarks, tests).

`engine.workflows.run_workflow(ref_or_path, parameters, executor)` conducts one workflow;
`engine.actions.ActionRunner` runs actions in-process; `engine.run_scenario(...)` replays a
twin scenario end to end (see engine.runner).
"""


def run_scenario(*args, **kwargs):
    """Replay a scenario on the twin with the whole pack; see engine.replay.run_scenario."""
    from engine.replay import run_scenario as _run
    return _run(*args, **kwargs)

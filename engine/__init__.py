"""Local engine: a StackStorm stand-in that runs the self_healing pack without StackStorm.

`engine.workflows.run_workflow(ref_or_path, parameters, executor)` conducts one workflow;
`engine.actions.ActionRunner` runs actions; `engine.runner.Engine` is the loop. Replaying a
twin scenario end to end is the scenario harness's job (`harness.run_scenario`).
"""

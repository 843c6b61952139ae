"""Pack actions run by the engine (each in its own patched process): parameters from YAML,
result semantics, built-ins, policies."""
from engine import actions as ex
from engine import builtins
from engine.policies import ConcurrencyPolicies


def test_defaults_applied_and_result_wrapped(action_runner):
    execution = action_runner.run("fixture.add", {"a": 2})
    assert execution.status == ex.SUCCEEDED
    assert execution.parameters == {"a": 2, "b": 1}
    assert execution.result["result"] == {"sum": 3}
    assert execution.result["exit_code"] == 0


def test_string_parameters_cast_like_rendered_rule_params(action_runner):
    assert action_runner.run("fixture.add", {"a": "4", "b": "5"}).result["result"] == {"sum": 9}


def test_validation_failures_fail_the_execution(action_runner):
    missing = action_runner.run("fixture.add", {})
    assert missing.status == ex.FAILED and "required" in missing.result["error"]
    unknown = action_runner.run("fixture.add", {"a": 1, "c": 2})
    assert unknown.status == ex.FAILED and "'c'" in unknown.result["error"]
    wrong = action_runner.run("fixture.add", {"a": "x"})
    assert wrong.status == ex.FAILED
    assert action_runner.run("fixture.nope", {}).status == ex.FAILED


def test_tuple_false_and_exceptions_fail(action_runner):
    flaky = action_runner.run("fixture.flaky", {"fail_times": 1})
    assert flaky.status == ex.FAILED and flaky.result["result"] == {"attempt": 1}
    assert action_runner.run("fixture.flaky", {"fail_times": 1}).status == ex.SUCCEEDED
    boom = action_runner.run("fixture.boom", {})
    assert boom.status == ex.FAILED and "kaboom" in boom.result["error"]


def test_chatops_post_message_is_captured(action_runner, clock):
    action_runner.chat = builtins.ChatLog()
    action_runner.run("chatops.post_message", {"channel": "#incidents", "message": "hi"})
    assert action_runner.chat.messages == [{"channel": "#incidents", "message": "hi",
                                            "at": clock.now()}]


def test_core_local_is_refused(action_runner):
    assert action_runner.run("core.local", {"cmd": "rm -rf /"}).status == ex.FAILED


def test_concurrency_attr_policy_delays_then_runs(action_runner):
    documents = [{"name": "one", "pack": "fixture", "resource_ref": "fixture.add",
                  "policy_type": "action.concurrency.attr",
                  "parameters": {"threshold": 1, "action": "delay", "attributes": ["a"]}}]
    policy = ConcurrencyPolicies(documents, action_runner)
    action_runner.before_run.append(policy)
    holder = ex.Execution("fixture.add", {"a": 1})
    action_runner.stack.append(holder)  # a run with a=1 is in progress
    same = action_runner.run("fixture.add", {"a": 1})
    other = action_runner.run("fixture.add", {"a": 2})
    assert same.status == ex.DELAYED and other.status == ex.SUCCEEDED
    assert action_runner.run_delayed() == []  # still held
    action_runner.stack.remove(holder)
    assert action_runner.run_delayed() == [same] and same.status == ex.SUCCEEDED
    assert policy.decisions[0]["verdict"] == ex.DELAYED


def test_concurrency_policy_cancel(action_runner):
    documents = [{"name": "one", "pack": "fixture", "resource_ref": "fixture.add",
                  "policy_type": "action.concurrency.attr",
                  "parameters": {"threshold": 1, "action": "cancel", "attributes": ["a"]}}]
    action_runner.before_run.append(ConcurrencyPolicies(documents, action_runner))
    action_runner.stack.append(ex.Execution("fixture.add", {"a": 1}))
    assert action_runner.run("fixture.add", {"a": 1}).status == ex.CANCELED


def test_inquiry_response_follows_schema():
    schema = {"properties": {"approved": {"type": "boolean"},
                             "decision": {"enum": ["approve", "deny"]},
                             "reason": {"type": "string"}}}
    assert builtins.build_response(schema, True) == {"approved": True, "decision": "approve"}
    assert builtins.build_response(schema, False) == {"approved": False, "decision": "deny"}


def test_actions_get_stackstorms_environment_and_api(action_runner):
    """An action reaches the engine's st2 API with ST2_ACTION_API_URL/ST2_ACTION_AUTH_TOKEN."""
    inquiry_execution = action_runner.run("core.ask", {"route": "r", "ttl": 5, "schema": {
        "type": "object", "properties": {"approved": {"type": "boolean", "required": True}}}})
    assert inquiry_execution.status == ex.PENDING
    answer = action_runner.run("fixture.answer", {"approve": True})
    assert answer.status == ex.SUCCEEDED, answer.result
    seen = answer.result["result"]
    assert seen["env"]["ST2_ACTION_PACK_NAME"] == "fixture"
    assert seen["env"]["ST2_ACTION_EXECUTION_ID"] == answer.id
    assert seen["pending"] == [inquiry_execution.id]
    assert inquiry_execution.status == ex.SUCCEEDED
    assert inquiry_execution.result["response"] == {"approved": True}
    assert "ST2_ACTION_AUTH_TOKEN" not in __import__("os").environ
    bad = action_runner.run("fixture.answer", {"approve": "maybe"})
    assert bad.status == ex.FAILED  # no pending Inquiry left / bad type


def test_output_schema_mismatch_is_reported_not_fatal():
    from engine.actions import output_schema_problem
    schema = {"type": "object", "properties": {"sum": {"type": "integer", "required": True}}}
    assert output_schema_problem(schema, {"sum": 3}) is None
    assert "is not of type" in output_schema_problem(schema, {"sum": "3"})
    legacy = {"sum": {"type": "integer"}}  # the older properties-only form
    assert output_schema_problem(legacy, {"sum": 1.5})

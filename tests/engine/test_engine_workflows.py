"""Orquesta workflows conducted by the engine (orquesta 1.2.0 WorkflowConductor)."""
import os

import pytest

pytestmark = pytest.mark.orquesta
pytest.importorskip("orquesta")

from engine import builtins  # noqa: E402
from engine import workflows  # noqa: E402


def test_sequence_publish_with_items_and_st2kv(action_runner, fixture_pack):
    action_runner.store.set("fixture.greeting", "hello")
    run = workflows.run_workflow("fixture.sequence", {}, action_runner, pack=fixture_pack)
    assert run.status == "succeeded", run.errors
    assert run.output == {"total": 5, "doubled": [10, 20], "kv": "hello"}
    assert run.task_ids() == ["first", "double", "double", "echo"]
    assert run.task("echo")["result"]["stdout"] == "total 5"


def test_workflow_by_path_with_mock_executor(fixture_pack):
    path = os.path.join(fixture_pack.actions_dir, "workflows", "sequence.yaml")
    calls = []

    def executor(ref, params, context):
        calls.append((ref, params, context["task"]))
        return "succeeded", {"result": {"sum": params.get("a", 0) + params.get("b", 0)}}

    run = workflows.run_workflow(path, {"x": 1}, executor)
    assert run.status == "succeeded"
    assert calls[0] == ("fixture.add", {"a": 1, "b": 3}, "first")
    assert run.output["doubled"] == [8, 20]


def test_retry_uses_the_sleep_hook(action_runner, fixture_pack, clock):
    start = clock.now()
    run = workflows.run_workflow("fixture.retrying", {}, action_runner, pack=fixture_pack,
                                 sleep_fn=clock.advance)
    assert run.status == "succeeded" and run.output == {"attempt": 3}
    assert clock.now() - start == 20  # two retries, delay 10 s each


def test_nested_workflow_and_failure_result(action_runner, fixture_pack):
    run = workflows.run_workflow("fixture.parent", {}, action_runner, pack=fixture_pack)
    assert run.output["child_total"] == 8  # child sequence with x=5
    assert "kaboom" in run.output["failed_seen"]
    nested = [e for e in action_runner.executions if e.ref == "fixture.sequence"][0]
    assert nested.status == "succeeded" and nested.result["output"]["total"] == 8


@pytest.mark.parametrize("mode,outcome,status,chat", [
    ("approve", "approved", "succeeded", 1),
    ("deny", "denied", "succeeded", 0),
    ("expire", "expired", "succeeded", 0),
])
def test_inquiry_approved_denied_expired(action_runner, fixture_pack, clock,
                                         mode, outcome, status, chat):
    action_runner.inquiry_policy = builtins.InquiryPolicy(mode, respond_after_s=30)
    action_runner.chat = builtins.ChatLog()
    announced = []
    action_runner.dispatch_trigger = lambda trigger, payload: announced.append((trigger, payload))
    start = clock.now()
    run = workflows.run_workflow("fixture.approval", {}, action_runner, pack=fixture_pack)
    assert run.output == {"outcome": outcome} and run.status == status
    assert len(action_runner.chat.messages) == chat
    assert announced[0][0] == "core.st2.generic.inquiry"
    assert announced[0][1]["route"] == "fixture" and announced[0][1]["ttl"] == 5
    inquiry = action_runner.inquiry_policy.inquiries[0]
    waited = clock.now() - start
    assert waited == pytest.approx(300 if mode == "expire" else 30)
    ask = [e for e in action_runner.executions if e.ref == "core.ask"][0]
    assert ask.status == ("timeout" if mode == "expire" else "succeeded")
    assert ("response" in ask.result) is (mode != "expire")
    assert inquiry.status == {"approve": "approved", "deny": "denied", "expire": "expired"}[mode]


def test_interactive_inquiry_reads_the_answer(action_runner, fixture_pack):
    action_runner.inquiry_policy = builtins.InquiryPolicy("ask", input_fn=lambda prompt: "y")
    run = workflows.run_workflow("fixture.approval", {}, action_runner, pack=fixture_pack)
    assert run.output == {"outcome": "approved"}


def test_invalid_workflow_fails_with_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1.0\ntasks:\n  a:\n    action: core.noop\n    next:\n"
                   "      - do: missing\n")
    run = workflows.run_workflow(str(bad), {}, lambda *a: ("succeeded", None))
    assert run.status == "failed" and run.errors


def test_pending_inquiry_pauses_until_answered_from_outside(action_runner, fixture_pack, clock):
    """A `manual` policy leaves the Inquiry pending; an answer given later resumes the flow."""
    action_runner.inquiry_policy = builtins.InquiryPolicy("manual")
    action_runner.chat = builtins.ChatLog()
    seen = []

    def sleep(seconds):
        clock.advance(seconds)
        pending = action_runner.inquiry_policy.pending()
        seen.append(len(pending))
        if clock.now() - pending[0].created_at >= 120:  # a person answers after two minutes
            with pytest.raises(ValueError):  # the schema wants a boolean
                action_runner.inquiry_policy.respond(pending[0].id, {"approved": "y"},
                                                     clock.now())
            action_runner.inquiry_policy.respond(pending[0].id, {"approved": True},
                                                 clock.now())

    action_runner.sleep = sleep
    run = workflows.run_workflow("fixture.approval", {}, action_runner, pack=fixture_pack)
    assert run.output == {"outcome": "approved"} and run.status == "succeeded"
    assert seen and all(count == 1 for count in seen)
    assert run.task("ask")["status"] == "succeeded"

"""ChatOps aliases in the engine: format matching, parameters, ack/result messages."""
import pytest

from engine import chatops
from engine.pack import Pack


@pytest.mark.parametrize("fmt,command,expected", [
    ("heal approve {{incident_id}}", "heal approve inc-1", {"incident_id": "inc-1"}),
    ("heal approve {{incident_id}}", "heal approve", None),
    ("heal deny {{incident_id}} {{comment=no reason}}", "heal deny inc-1",
     {"incident_id": "inc-1", "comment": "no reason"}),
    ("heal deny {{incident_id}} {{comment=no reason}}", "heal deny inc-1 too risky now",
     {"incident_id": "inc-1", "comment": "too risky now"}),
    ("heal run {{playbook}} on {{kind}} {{namespace}}/{{name}}",
     "heal run pod_crash_loop on Pod production/api-1",
     {"playbook": "pod_crash_loop", "kind": "Pod", "namespace": "production", "name": "api-1"}),
    ("heal show {{incident_id}}", 'heal show "inc 2"', {"incident_id": "inc 2"}),
    ("heal status", "heal statusx", None),
])
def test_format_matching(fmt, command, expected):
    assert chatops.match_format(fmt, command) == expected


def test_extra_key_value_parameters():
    alias = chatops.Alias({"name": "r", "action_ref": "p.a",
                           "formats": ["heal run {{playbook}} on node {{name}}"]})
    assert alias.match("heal run memory_pressure_node on node n1 dry_run=false") == {
        "playbook": "memory_pressure_node", "name": "n1", "dry_run": "false"}


def test_pack_aliases_each_command_matches_exactly_one():
    ops = chatops.ChatOps(Pack().resources("aliases"), None)
    if not ops.aliases:
        pytest.skip("the pack has no aliases yet")
    commands = ["!heal status", "heal incidents", "heal resume"]
    for command in commands:
        try:
            ops.find(command)
        except chatops.NoMatch as error:
            pytest.fail(str(error))


def test_command_runs_alias_action_and_posts_ack_and_result(action_runner, fixture_pack):
    from engine import builtins
    action_runner.chat = builtins.ChatLog()
    ops = chatops.ChatOps(fixture_pack.resources("aliases"), action_runner)
    execution = ops.command("!add 2 and 5", user="ann", channel="#ops")
    assert execution.ref == "fixture.add" and execution.parameters == {"a": 2, "b": 5}
    assert [(m["kind"], m["message"]) for m in action_runner.chat.messages] == [
        ("user", "!add 2 and 5"), ("result", "sum 7")]
    assert ops.command("add 4").result["result"] == {"sum": 5}
    with pytest.raises(chatops.NoMatch):
        ops.command("subtract 4")


@pytest.mark.orquesta
def test_inquiry_answered_from_chat(action_runner, fixture_pack, clock):
    pytest.importorskip("orquesta")
    from engine import builtins, workflows
    action_runner.chat = builtins.ChatLog()
    policy = builtins.InquiryPolicy("chat", respond_after_s=90)
    ops = chatops.ChatOps(fixture_pack.resources("aliases"), action_runner)
    policy.responder = lambda inquiry, approve: ops.command("approve %s" % inquiry.id)
    action_runner.inquiry_policy = policy
    start = clock.now()
    run = workflows.run_workflow("fixture.approval", {}, action_runner, pack=fixture_pack)
    assert run.output == {"outcome": "approved"}
    assert clock.now() - start == pytest.approx(90)
    kinds = [m.get("kind") for m in action_runner.chat.messages]
    assert kinds[:3] == ["user", "ack", "result"]
    assert action_runner.chat.messages[2]["message"] == "answered 1"
    assert policy.inquiries[0].status == "approved" and policy.by_human == 1

"""The pack's aliases run through the local engine's chat path: each message as rendered.

The engine gives an alias execution the context StackStorm's alias API gives it (`api_user` =
the chat user, `user` = the bot's StackStorm user, `source_channel`); the actions record the
chat user from `{{ action_context.api_user }}`.
"""
import pytest

from engine import builtins, chatops, expressions
from engine.actions import ActionRunner, ActionService, Execution
from engine.pack import Pack

INC = "inc-20261128-031722-ab12"
WEB = "https://st2.example.com"
FENCE = "`" * 3
T0 = 1795835842.0


class Clock(object):
    def __init__(self) -> None:
        self.t = T0

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def chat(monkeypatch):
    from lib import clock as lib_clock
    manual = Clock()
    lib_clock.set_time_source(manual.now, manual.advance)
    pack = Pack()
    config = pack.config({"chatops": {"st2_web_url": WEB,
                                      "approvers": {"users": ["alice", "carol"]}}})
    runner = ActionRunner(pack=pack, config=config, now_fn=manual.now, sleep_fn=manual.advance)
    runner.chat = builtins.ChatLog()
    runner.inquiry_policy = builtins.InquiryPolicy("manual")
    expressions.set_datastore(runner.store)
    ops = chatops.ChatOps(pack.resources("aliases"), runner, runner.store)
    ops.clock = manual
    yield ops
    lib_clock.reset()


def said(ops, command, user):
    """Run a command; return the bot's messages it caused, as posted."""
    before = len(ops.runner.chat.messages)
    execution = ops.command(command, user=user, channel="#incidents")
    posted = ops.runner.chat.messages[before:]
    assert posted[0] == {"channel": "#incidents", "message": command, "user": user,
                         "kind": "user", "at": posted[0]["at"]}
    return execution, [(m["kind"], m["message"]) for m in posted[1:]]


def store_of(ops):
    from lib.datastore import Datastore
    return Datastore(ActionService(ops.runner.store, "self_healing", "test"))


def make_incident(ops, status="escalated", **fields):
    from lib import incidents
    book = incidents.Incidents(store_of(ops))
    record = incidents.new_record(INC, status=status, playbook="memory_pressure_node",
                                  trigger_summary="memory pressure on node n1", **fields)
    incidents.append_entry(record, "DETECT", "memory pressure on node n1 (%stop%s)"
                           % (FENCE, FENCE))
    book.create(record)
    return book


def pending_inquiry(ops):
    """A core.ask Inquiry raised under a playbook execution that works on INC."""
    runner = ops.runner
    workflow = Execution("self_healing.guarded_step", {"incident_id": INC}, {}, "ex-wf")
    runner.executions.append(workflow)
    ask = runner.run("core.ask", {"route": "self_healing", "ttl": 30, "users": ["alice"],
                                  "schema": {"type": "object", "properties": {
                                      "approved": {"type": "boolean", "required": True},
                                      "reason": {"type": "string"}}}},
                     {"parent": workflow.id})
    assert ask.status == "pending"
    return ask


def test_pause_and_resume_record_the_chat_user(chat):
    execution, messages = said(chat, "!heal pause release freeze", "alice")
    assert execution.context["api_user"] == "alice"
    assert execution.context["user"] == chatops.BOT_USER
    assert messages == [
        ("ack", ":double_vertical_bar: Pausing autonomous remediation..."),
        ("result", ":octagonal_sign: Self-healing *paused* by *alice*: release freeze. "
                   "Nothing will be changed until it is resumed.")]
    from lib import policy
    assert store_of(chat).get_json(policy.KILL_SWITCH_KEY)["by"] == "alice"
    _, messages = said(chat, "!heal resume", "bob")
    assert messages[-1] == ("result", ":large_green_circle: Self-healing *resumed* by *bob* "
                                      "(mode `observe`).")
    assert store_of(chat).get_json(policy.KILL_SWITCH_KEY)["by"] == "bob"


def test_the_recorded_user_cannot_be_claimed_from_chat(chat):
    execution, messages = said(chat, "!heal pause requester=mallory", "eve")
    assert execution.status == "failed"
    assert messages[-1] == ("error", ":x: parameter validation failed: 'requester' is immutable")
    from lib import policy
    assert store_of(chat).get_json(policy.KILL_SWITCH_KEY) is None
    with pytest.raises(chatops.NoMatch):  # an alias's immutable parameter is refused as well
        chat.command("!heal approve %s approve=false" % INC, user="eve")


def test_approve_is_one_message_naming_the_approver_with_a_link(chat):
    book = make_incident(chat)
    ask = pending_inquiry(chat)
    execution, messages = said(chat, "!heal approve %s" % INC, "alice")
    assert execution.status == "succeeded", execution.result
    assert messages == [("result", ":white_check_mark: Plan approved by *alice* for incident "
                                   "`%s`. <%s/#/history/ex-wf/general|workflow>" % (INC, WEB))]
    assert ask.status == "succeeded"
    assert ask.result["response"] == {"approved": True, "reason": "alice"}
    record = book.get(INC)
    assert record["decisions"][-1]["by"] == "alice"
    assert record["timeline"][-1]["message"] == "plan approved by alice"


def test_deny_by_inquiry_id_names_the_user(chat):
    make_incident(chat)
    ask = pending_inquiry(chat)
    _, messages = said(chat, "!heal inquiry %s deny too risky" % ask.id, "carol")
    assert messages == [("result", ":no_entry: Plan denied by *carol* for incident `%s` "
                                   "(too risky). <%s/#/history/ex-wf/general|workflow>"
                         % (INC, WEB))]
    assert ask.result["response"] == {"approved": False, "reason": "carol: too risky"}


def test_someone_off_the_allow_list_cannot_approve(chat):
    book = make_incident(chat)
    ask = pending_inquiry(chat)
    execution, messages = said(chat, "!heal approve %s" % INC, "mallory")
    assert execution.status == "failed"
    assert messages == [("result", ":x: not answered: mallory is not an approver "
                                   "(approvers: alice, carol)")]
    assert ask.status == "pending"
    assert not book.get(INC)["decisions"]


def test_show_has_one_code_block_and_a_link(chat):
    from lib import incidents
    book = make_incident(chat, status="resolved", execution_id="ex-wf")
    record = book.get(INC)
    incidents.append_entry(record, "EXECUTE", "cordon n1", kind="step", step="cordon",
                           action="self_healing.cordon_node", outcome="executed")
    incidents.append_entry(record, "VERIFY", "node n1 memory < 70% for 5m", kind="step",
                           step="wait_node_memory_below_70", outcome="executed")
    book.save(record)
    _, messages = said(chat, "!heal show %s" % INC, "bob")
    assert [kind for kind, _ in messages] == ["ack", "result"]
    text = messages[1][1]
    assert text.count(FENCE) == 2 and text.endswith(FENCE)
    assert text.splitlines()[0] == (":white_check_mark: *Self-healed: memory pressure on node "
                                    "n1* `%s` — RESOLVED" % INC)
    assert "*Execution:* <%s/#/history/ex-wf/general|StackStorm execution>" % WEB in text
    quote3 = "'" * 3
    assert "DETECT: memory pressure on node n1 (%stop%s)" % (quote3, quote3) in text


def test_not_self_healed_before_verification(chat):
    from lib import incidents, reports
    book = make_incident(chat, status="remediating")
    record = book.get(INC)
    incidents.append_entry(record, "EXECUTE", "cordon n1", kind="step", step="cordon",
                           action="self_healing.cordon_node", outcome="executed")
    assert reports.incident_report(record).splitlines()[0].startswith(
        ":hammer_and_wrench: *Remediating: memory pressure on node n1*")
    record["status"] = "resolved"
    assert "*Remediated (not verified):" in reports.incident_report(record)
    incidents.append_entry(record, "VERIFY", "node n1 memory < 70% for 5m FAILED: timeout",
                           kind="step", step="wait_node_memory_below_70", outcome="failed",
                           failed=True)
    assert "Self-healed" not in reports.incident_report(record)
    incidents.append_entry(record, "VERIFY", "node n1 memory < 70% for 5m", kind="step",
                           step="wait_node_memory_below_70", outcome="executed")
    assert "*Self-healed: memory pressure" in reports.incident_report(record)


def test_a_waiting_approval_pages_once_after_n_minutes(chat):
    runner = chat.runner
    runner.config["chatops"].update({
        "page_action": "core.echo", "page_after_minutes": 10,
        "page_parameters": {"message": "{incident_id} waits {minutes} min: {summary} {url}"}})
    make_incident(chat)
    ask = pending_inquiry(chat)
    clock = chat.clock
    clock.advance(9 * 60)
    first = runner.run("self_healing.page_waiting_approvals", {})
    assert first.status == "succeeded" and first.result["result"]["paged"] == []
    clock.advance(61)
    second = runner.run("self_healing.page_waiting_approvals", {})
    page = second.result["result"]["paged"]
    assert [p["inquiry_id"] for p in page] == [ask.id]
    echo = [e for e in runner.executions if e.ref == "core.echo"]
    assert [e.parameters["message"] for e in echo] == [
        "%s waits 10 min: memory pressure on node n1 %s/#/history/ex-wf/general" % (INC, WEB)]
    clock.advance(600)
    third = runner.run("self_healing.page_waiting_approvals", {})
    assert third.result["result"]["paged"] == [] and third.result["result"]["waiting"] == 1
    assert len([e for e in runner.executions if e.ref == "core.echo"]) == 1


def test_paging_is_off_without_an_action(chat):
    pending_inquiry(chat)
    chat.clock.advance(3600)
    run = chat.runner.run("self_healing.page_waiting_approvals", {})
    assert run.result["result"]["paged"] == []
    assert not [e for e in chat.runner.executions if e.ref == "core.echo"]

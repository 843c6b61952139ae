"""Incident records: lifecycle, timeline rendering, timings; report texts and metrics."""
import pytest

from lib import clock, incidents, reports
from support.healing_fakes import T0, FixedClock, store


@pytest.fixture(autouse=True)
def fixed_clock():
    fake = FixedClock().install()
    yield fake
    clock.reset()


def make(book, incident_id="inc-1", **fields):
    fields.setdefault("onset", clock.isoformat(T0 - 20))
    fields.setdefault("detected_at", clock.isoformat(T0))
    return book.create(incidents.new_record(incident_id, **fields))


@pytest.mark.parametrize("path,ok", [
    (["remediating", "verifying", "resolved"], True),
    (["remediating", "failed"], True),
    (["escalated", "remediating", "verifying", "resolved"], True),
    (["verifying"], False),
    (["resolved", "open"], False),
    (["failed", "remediating"], False),
    (["remediating", "open"], False),
    (["bogus"], False),
])
def test_lifecycle_transitions(path, ok):
    book = incidents.Incidents(store())
    make(book)
    try:
        for status in path:
            book.transition("inc-1", status)
    except incidents.IncidentError as error:
        assert not ok, error
        return
    assert ok and book.get("inc-1")["status"] == path[-1]


def test_same_status_is_a_no_op_and_history_is_kept():
    book = incidents.Incidents(store())
    make(book)
    book.transition("inc-1", "remediating", "plan approved")
    book.transition("inc-1", "remediating")
    history = book.get("inc-1")["status_history"]
    assert [(h["from"], h["to"], h["reason"]) for h in history] == [
        ("open", "remediating", "plan approved")]


def test_seed_timeline_renders_and_timings(fixed_clock):
    book = incidents.Incidents(store())
    make(book, onset=clock.isoformat(T0 - 34))
    steps = [(0, "DETECT", "Memory pressure on node gke-prod-pool-1-abc123"),
             (1, "DIAGNOSE", "top consumer analytics-worker-7f8d9"),
             (3, "PLAN", "1. cordon 2. rollback 3. monitor"),
             (4, "EXECUTE", "cordon gke-prod-pool-1-abc123"),
             (5, "EXECUTE", "rollout undo deployment/analytics-worker"),
             (6, "NOTIFY", "to #incidents"),
             (143, "VERIFY", "node at 72% and falling"),
             (278, "EXECUTE", "uncordon gke-prod-pool-1-abc123"),
             (279, "TASK", "follow-up for the DevOps team")]
    for offset, entry_type, message in steps:
        fixed_clock.t = T0 + offset
        book.add_entry("inc-1", entry_type, message,
                       kind="step" if entry_type in ("EXECUTE", "VERIFY") else "note")
    book.transition("inc-1", "resolved", "verified")
    record = book.get("inc-1")
    lines = incidents.render_timeline(record)
    assert lines[0] == "03:17:22 DETECT: Memory pressure on node gke-prod-pool-1-abc123"
    assert lines[4] == "03:17:27 EXECUTE: rollout undo deployment/analytics-worker"
    assert lines[-1] == "03:22:01 TASK: follow-up for the DevOps team"
    assert record["remediated_at"] == "2026-11-28T03:17:27Z"
    assert record["verified_at"] == "2026-11-28T03:19:45Z"
    assert incidents.time_to_detect(record) == 34
    assert incidents.time_to_remediate(record) == 143
    assert incidents.duration_text(279) == "4 min 39 s"
    text = reports.incident_report(record)
    assert "Self-healed" in text and "human involvement: none" in text
    assert "total 4 min 39 s" in text
    assert "```\n03:17:22 DETECT" in text


def test_duration_text_forms():
    assert [incidents.duration_text(s) for s in (None, 42.4, 245, 4500)] == [
        "n/a", "42 s", "4 min 5 s", "1 h 15 min"]
    # the column form (harness.report's demo report): two-digit seconds, never hours
    assert [incidents.duration_text(s, columns=True) for s in (None, 59.6, 245, 4500)] == [
        "n/a", "1 min 00 s", "4 min 05 s", "75 min 00 s"]


def test_bad_entries_are_refused():
    book = incidents.Incidents(store())
    make(book)
    with pytest.raises(incidents.IncidentError):
        book.add_entry("inc-1", "PARTY", "x")
    with pytest.raises(ValueError):
        book.add_entry("inc-1", "VERIFY", "x", at="yesterday")
    with pytest.raises(incidents.IncidentError):
        book.add_entry("inc-404", "VERIFY", "x")


def test_new_id_is_stable_and_readable():
    assert incidents.new_id(T0, "sig") == incidents.new_id(T0, "sig")
    assert incidents.new_id(T0, "sig").startswith("inc-20261128-031722-")


def test_escalation_marks_human_involvement():
    book = incidents.Incidents(store())
    make(book)
    book.add_entry("inc-1", "ESCALATE", "awaiting approval")
    assert reports.human_involved(book.get("inc-1"))


def seeded(status, offset_days=0, escalated=False, fp=False, playbook="memory_pressure_node",
           executes=(("cordon node-1", "cordon_node"),
                     ("rollout undo deployment/a", "rollback_deployment")), ttd=30, ttr=150):
    created = T0 - offset_days * 86400
    record = incidents.new_record(
        "inc-%d-%s" % (offset_days, status), status=status, playbook=playbook,
        created_at=clock.isoformat(created), onset=clock.isoformat(created - ttd),
        detected_at=clock.isoformat(created), escalated=escalated, false_positive=fp,
        verified_at=clock.isoformat(created + ttr) if status == "resolved" else None)
    record["timeline"] = [{"at": clock.isoformat(created + 5), "type": "EXECUTE",
                           "message": m, "kind": "step", "action": "self_healing." + a,
                           "dry_run": False, "failed": False} for m, a in executes]
    return record


def test_effectiveness_metrics_follow_the_seed_list():
    records = [seeded("resolved", 1), seeded("resolved", 2, ttd=40, ttr=200),
               seeded("resolved", 3, playbook="cascade_protection",
                      executes=(("configure circuit breaker b -> a",
                                 "configure_circuit_breaker"),)),
               seeded("escalated", 4, escalated=True),
               seeded("resolved", 5, fp=True),
               seeded("resolved", 40)]
    m = reports.effectiveness(records, 30, now=T0)
    assert m["incidents_detected"] == 5
    assert (m["auto_remediated"], m["auto_remediated_pct"]) == (3, 60.0)
    assert (m["escalated"], m["escalated_pct"]) == (1, 20.0)
    assert m["false_positive_rate_pct"] == 20.0
    assert m["mttd_s"] == pytest.approx((30 + 40 + 30 + 30) / 4)
    assert m["mttr_s"] == pytest.approx((150 + 200 + 150) / 3)
    assert m["successful_rollbacks"] == 2
    assert m["prevented_cascades"] == 1
    text = reports.effectiveness_text(m)
    for label in ("Incidents detected: 5", "Auto-remediated: 3 (60%)", "Escalated to humans: 1",
                  "Mean time to detect: 32 s", "Mean time to remediate: 2 min 47 s",
                  "False-positive rate: 20.0%", "Successful rollbacks: 2",
                  "Prevented cascading failures: 1"):
        assert label in text


def test_effectiveness_of_nothing():
    m = reports.effectiveness([], 30, now=T0)
    assert m["incidents_detected"] == 0 and m["mttd_s"] is None
    assert "Mean time to detect: n/a" in reports.effectiveness_text(m)


def test_shadow_report_groups_dry_runs_and_denials():
    base = {"type": "policy_decision", "at": "2026-11-28T03:17:25Z", "playbook": "p",
            "risk": "low", "target": {"kind": "Node", "name": "n1"}, "reason": "r"}
    records = [dict(base, step="cordon_node", decision="execute", dry_run=True, would="execute"),
               dict(base, step="evict_pods", decision="execute", dry_run=True, would="escalate"),
               dict(base, step="drain_node", decision="deny", dry_run=False, reason="storm"),
               dict(base, step="scale", decision="execute", dry_run=False, would="execute"),
               {"type": "kill_switch", "engaged": True}]
    report = reports.shadow(records)
    assert [x["step"] for x in report["would_execute"]] == ["cordon_node"]
    assert [x["step"] for x in report["would_escalate"]] == ["evict_pods"]
    assert [x["step"] for x in report["denied"]] == ["drain_node"]
    text = reports.shadow_text(report, 24)
    assert "1 step(s) would have run, 1 would have needed a human, 1 denied" in text
    assert "03:17:25 Denied: drain_node on Node n1 (p, risk low) — storm" in text


def test_shadow_report_counts_observe_mode_decisions():
    base = {"type": "policy_decision", "at": "2026-11-28T03:17:25Z", "playbook": "p",
            "risk": "low", "target": {"kind": "Node", "name": "n1"}, "reason": "observe",
            "decision": "deny", "check": "mode", "dry_run": False}
    report = reports.shadow([dict(base, step="cordon_node", would="execute"),
                             dict(base, step="rollback", would="escalate"),
                             dict(base, step="drain_node", would="deny")])
    assert [x["step"] for x in report["would_execute"]] == ["cordon_node"]
    assert [x["step"] for x in report["would_escalate"]] == ["rollback"]
    assert [x["step"] for x in report["denied"]] == ["drain_node"]

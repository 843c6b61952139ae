"""Incident records are structured: every reader uses the typed fields of the timeline
entries (kind, step, action, playbook, target, outcome, dry_run, failed) and the record's
`handovers` and pending approval, never the entry text, which is presentation only."""
import os

import yaml

from diagnose import Diagnose
from effectiveness_report import EffectivenessReport
from lib import clock, incidents, reports
from record_timeline import RecordTimeline
from set_incident_status import SetIncidentStatus
from show_incident import ShowIncident
from support.healing_fakes import T0
from test_actions import SEED_SIGNAL, PackActionCase


class TestStructuredEntries(PackActionCase):
    def record(self, inc, **params):
        return self.run_action(RecordTimeline, incident_id=inc, **params)

    def incident(self, inc):
        return self.run_action(ShowIncident, incident_id=inc)["incident"]

    def test_a_reworded_handover_still_lands_and_a_handover_text_alone_does_not(self):
        inc = self.diagnose_seed()["incident_id"]
        self.record(inc, type="PLAN", message="hand over to playbook cpu_throttling (a note)")
        assert self.run_action(Diagnose, signal=SEED_SIGNAL, incident_id=inc)["handovers"] == []
        self.record(inc, type="PLAN", kind="handover", playbook="pod_crash_loop",
                    message="the crash loop explains the pressure; passing the incident on")
        out = self.run_action(Diagnose, signal=SEED_SIGNAL, incident_id=inc)
        assert out["handovers"] == ["pod_crash_loop"]
        assert "pod_crash_loop" in out["playbooks_ran"]
        assert "cpu_throttling" not in out["playbooks_ran"]
        assert [h["playbook"] for h in self.incident(inc)["handovers"]] == ["pod_crash_loop"]

    def test_bad_kinds_and_a_handover_to_nowhere_are_refused(self):
        inc = self.diagnose_seed()["incident_id"]
        ok, result = self.run_action(RecordTimeline, incident_id=inc, type="PLAN",
                                     kind="handover", message="hand over to playbook x")
        assert ok is False and "names the playbook" in result["error"]
        ok, result = self.run_action(RecordTimeline, incident_id=inc, type="PLAN",
                                     kind="party", message="x")
        assert ok is False and "unknown timeline entry kind 'party'" in result["error"]
        ok, result = self.run_action(RecordTimeline, incident_id=inc, type="EXECUTE",
                                     kind="step", target="node-1", message="x")
        assert ok is False and result["error"].startswith("target:")
        assert "handovers" not in self.incident(inc)

    def test_rollbacks_are_counted_by_action_whatever_the_text_says(self):
        inc = self.diagnose_seed()["incident_id"]
        rollback = dict(type="EXECUTE", kind="step", step="rollback_deployment",
                        action_ref="self_healing.rollback_deployment",
                        target={"kind": "Deployment", "namespace": "production",
                                "name": "analytics-worker"})
        self.record(inc, message="analytics-worker back on v1.4.1", outcome="executed",
                    **rollback)
        self.record(inc, message="rollout undo deployment/analytics-worker",
                    outcome="dry_run", was_dry_run=True, **rollback)
        self.record(inc, message="roll back analytics-worker", outcome="failed", failed=True,
                    **rollback)
        self.record(inc, type="EXECUTE", message="rollback of the cache (a note, no step)")
        self.run_action(SetIncidentStatus, incident_id=inc, status="resolved")
        metrics = self.run_action(EffectivenessReport, days=1)["metrics"]
        assert metrics["successful_rollbacks"] == 1
        assert reports.real_executions(self.incident(inc)) == ["analytics-worker back on v1.4.1"]

    def test_an_approval_clears_the_pending_inquiry_whatever_its_text(self):
        inc = self.diagnose_seed()["incident_id"]
        self.record(inc, type="ESCALATE", kind="approval_request", step="cordon_node",
                    inquiry_id="inq-1", message="waiting for a human")
        record = self.incident(inc)
        assert record["inquiry_id"] == "inq-1"
        assert record["pending_approval"]["step"] == "cordon_node"
        self.record(inc, type="ESCALATE", message="approved: cordon_node (a note, no approval)")
        assert self.incident(inc)["inquiry_id"] == "inq-1"
        self.record(inc, type="ESCALATE", kind="approval", outcome="approved",
                    step="cordon_node", message="go ahead")
        record = self.incident(inc)
        assert "inquiry_id" not in record and "pending_approval" not in record
        assert record["timeline"][-1]["outcome"] == "approved"


def _entry(entry_type, message, offset, **fields):
    entry = {"at": clock.isoformat(T0 + offset), "type": entry_type, "message": message}
    entry.update(fields)
    return entry


def test_verification_and_remediation_times_come_from_the_fields():
    record = incidents.new_record("inc-1", detected_at=clock.isoformat(T0))
    record["timeline"] = [
        _entry("EXECUTE", "cordon n1", 5, kind="step", dry_run=False, failed=False),
        _entry("EXECUTE", "evict the pods of n1", 9, kind="step", dry_run=True, failed=False),
        _entry("VERIFY", "no pod FAILED to start for 2m", 60, kind="step", dry_run=False,
               failed=False),
        _entry("VERIFY", "memory below 80%", 90, kind="step", dry_run=False, failed=True)]
    assert reports.verified(record)
    assert incidents.last_entry_at(record, "VERIFY", real_only=True) == clock.isoformat(T0 + 60)
    assert incidents.remediation_time(record) == clock.isoformat(T0 + 5)


def test_entries_of_an_older_pack_version_are_unknown_and_break_no_reader():
    legacy = incidents.new_record(
        "inc-old", status="resolved", created_at=clock.isoformat(T0),
        detected_at=clock.isoformat(T0), onset=clock.isoformat(T0 - 30),
        verified_at=clock.isoformat(T0 + 90))
    legacy["timeline"] = [
        _entry("PLAN", "root cause x - hand over to playbook memory_leak", 1),
        _entry("EXECUTE", "rollout undo deployment/a", 5),
        _entry("ESCALATE", "plan stopped, left in place for a human: Node n1 (x)", 6),
        _entry("VERIFY", "memory back to normal", 60)]
    assert {incidents.entry_kind(e) for e in legacy["timeline"]} == {incidents.UNKNOWN}
    assert incidents.handovers(legacy) == []
    assert incidents.left_in_place(legacy) == []
    assert reports.real_executions(legacy) == [] and not reports.verified(legacy)
    assert reports.effectiveness([legacy], 1, now=T0 + 100)["successful_rollbacks"] == 0
    text = reports.incident_report(legacy)
    assert "rollout undo deployment/a" in text  # still shown, as text
    assert Diagnose._output(legacy)["handovers"] == []


def test_the_action_metadata_offers_exactly_the_kinds_the_records_know():
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, os.pardir, os.pardir, "actions", "record_timeline.yaml")) as f:
        meta = yaml.safe_load(f)
    assert meta["parameters"]["kind"]["enum"] == list(incidents.ENTRY_KINDS)

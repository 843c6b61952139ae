"""`make faults`: the fault-injection suite proving the healer never makes things worse.

Each case replays a scenario through the local engine with faults injected in the infrastructure
the pack depends on (API server, Prometheus, NATS), in the pack's own run (an action failing,
the workflow cancelled, the engine restarted) or in its inputs (duplicate, flapping, malformed
triggers, storms, protected targets, the kill switch, broken config). Three invariants are
checked on every case, independently of the pack's own gate:

- unsafe actions: a real cluster change that no `execute` decision of the policy gate allowed,
  made in observe/dry-run mode or while the kill switch was engaged, touching a protected
  namespace, cordoning more nodes than the budget, or deleting a pod (bypassing a PDB);
- unexpected modifications: a change the pack made that is still in place at the end and that no
  resolved incident accounts for (and that no escalated incident names as left for a human);
- missing audit: a real change without its policy decision in the audit trail or without its
  entry in the incident's timeline.

    python -m bench.faults [--only NAME ...]     # prints the table, writes build/bench/faults.json

The suite is a package: `oracle` (the invariants and the per-case checks), `cases` (the cases
and their fault injectors) and `runner` (running a case, the table); this module keeps their
names importable as `bench.faults.<name>`.
"""
from bench.faults.cases import (CASES, FaultCase, at_offset, engage_kill_switch,  # noqa: F401
                                fail_action, on_action, signal_payload)
from bench.faults.oracle import (CaseState, _accounted, _checks, _closed_cleanly,  # noqa: F401
                                 _degraded_once, _handed_over_at_most_once, _in_timeline,
                                 _nats_failure_recorded, _no_mutation, _no_signal,
                                 _not_resolved, _nothing_cordoned, _nothing_cordoned_beyond,
                                 _one_remediation, _storm_escalated, audit_records, invariants,
                                 snapshot)
from bench.faults.runner import main, run_case  # noqa: F401

"""Close incidents whose workflow stopped making progress, undoing their temporary changes.

A workflow can stop without reaching its rollback steps: the StackStorm node running it
restarted, or someone cancelled it. Run by a timer rule, this action finds incidents still in
open/remediating/verifying whose record has not moved for `stale_after_s`, uncordons the nodes
the healer cordoned for them, releases their target locks, closes them as failed with a timeline
that says what was undone, and re-arms the signals behind them so that a problem that is still
there is taken up again by a new workflow. Cordons the healer left for incidents that are
already closed (or unknown) are undone too. Escalated incidents belong to a human.
"""
from typing import Any, Dict, List

from lib import clock, incidents, k8s_nodes, policy
from lib.signal_state import STATE_PREFIX
from lib.base_action import HEALER, SelfHealingAction, mutation_result
from lib.k8s_events import record_event

STALLED = ("open", "remediating", "verifying")


class ReconcileIncidents(SelfHealingAction):
    def execute(self, stale_after_s: int = 0, dry_run: bool = False):
        stale_after_s = int(stale_after_s or self.settings.reconcile_stale_after_s)
        store = self.datastore()
        switch = store.get_json(policy.KILL_SWITCH_KEY, None) or {}
        if switch.get("engaged") and not dry_run:
            return mutation_result(False, dry_run, "nothing: the kill switch is engaged",
                                   closed=[], undone=[])
        records = incidents.Incidents(store, int(self.settings.incident_ttl_s))
        now = clock.now()
        by_id = {r["id"]: r for r in records.all()}
        stalled = [r for r in by_id.values() if r.get("status") in STALLED and
                   now - clock.parse_iso(r.get("updated_at") or r["created_at"])
                   >= stale_after_s]
        stalled_ids = {r["id"] for r in stalled}
        undone: List[Dict[str, Any]] = []
        for node in self.kube.call(self.kube.core.list_node).items:
            state = k8s_nodes.node_state(node)
            if not state["unschedulable"] or state["cordoned_by"] != HEALER:
                continue
            owner = by_id.get(state["incident"]) if state["incident"] else None
            orphaned = owner is None or owner.get("status") in incidents.TERMINAL
            if state["incident"] not in stalled_ids and not orphaned:
                continue
            if orphaned and state["cordoned_at"] and \
                    now - clock.parse_iso(state["cordoned_at"]) < stale_after_s:
                continue  # a workflow may be about to record it
            name = node.metadata.name
            result = k8s_nodes.uncordon(self.kube, name, False, state["incident"], dry_run)
            undone.append({"node": name, "incident_id": state["incident"],
                           "changed": result["changed"], "would": result["would"]})
            if result["changed"]:
                record_event(self.kube, "Node", None, name, "Uncordoned",
                             "self-healing reconcile uncordoned node %s (incident %s stalled)"
                             % (name, state["incident"] or "unknown"), state["incident"])
        closed = []
        for record in stalled:
            mine = [u["node"] for u in undone if u["incident_id"] == record["id"]]
            if dry_run:
                closed.append(record["id"])
                continue
            idle = int(now - clock.parse_iso(record.get("updated_at") or record["created_at"]))
            if mine:
                incidents.append_entry(record, "ROLLBACK", "uncordoned %s: the workflow stopped "
                                       "(no progress for %d s)" % (", ".join(mine), idle))
            incidents.append_entry(record, "ESCALATE", "closed by reconcile: no workflow "
                                   "progress for %d s (StackStorm restarted or the execution was "
                                   "cancelled); a human should check %s" % (
                                       idle, record.get("playbook") or "the incident"))
            incidents.apply_transition(record, "failed", "workflow stopped making progress")
            records.save(record)
            policy.release_incident(store, record["id"])  # interrupted: no cooldown
            rearm_signals(store, record)
            closed.append(record["id"])
        changed = bool(closed) or any(u["changed"] for u in undone)
        would = "; ".join(["close %s" % i for i in closed] + [u["would"] for u in undone]) \
            or "nothing stalled"
        return mutation_result(changed, dry_run, would, closed=closed, undone=undone)


def rearm_signals(store: Any, record: Dict[str, Any]) -> List[str]:
    """Forget the open conditions behind a closed incident so that, if the problem is still
    there, the sensors fire again and a new workflow takes it up (the incident resumes)."""
    ids = set(record.get("signals") or [])
    root = (record.get("root_cause") or {}).get("signal_id")
    if root:
        ids.add(root)
    rearmed = []
    for key, state in store.list_json(STATE_PREFIX).items():
        if isinstance(state, dict) and state.get("signal_id") in ids:
            store.delete(key)
            rearmed.append(key)
    return rearmed

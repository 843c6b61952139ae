"""Close incidents whose workflow stopped making progress, undoing their temporary changes.

A workflow can stop without reaching its rollback steps: the StackStorm node running it
restarted, or someone cancelled it. Run by a timer rule, this action finds incidents still in
open/remediating/verifying whose workflow executions (recorded by diagnose) have all ended
according to StackStorm's API (canceled, failed, abandoned, or unknown after a restart), or,
when the API cannot say, whose record has not moved for `stale_after_s`; it uncordons the nodes
the healer cordoned for them, releases their target locks, closes them as failed with a timeline
that says what was undone, and re-arms the signals behind them so that a problem that is still
there is taken up again by a new workflow. Cordons the healer left for incidents that are
already closed (or unknown) are undone too. Escalated incidents belong to a human.
"""
from typing import Any, Dict, List

from lib import clock, incidents, k8s_nodes, policy, st2_links
from lib.signal_state import STATE_PREFIX
from lib.base_action import HEALER, SelfHealingAction, mutation_result
from lib.k8s_events import record_event

STALLED = ("open", "remediating", "verifying")


class ReconcileIncidents(SelfHealingAction):
    """Tests may set `client` to a fake st2client."""

    client = None  # type: Any

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
        why: Dict[str, str] = {}
        for record in by_id.values():
            if record.get("status") not in STALLED:
                continue
            idle = int(now - clock.parse_iso(record.get("updated_at") or record["created_at"]))
            ended = self._workflows_ended(record)
            if ended:
                why[record["id"]] = "its workflow stopped (%s)" % ended
            elif idle >= stale_after_s:
                why[record["id"]] = "no workflow progress for %d s (StackStorm restarted or " \
                    "the execution was cancelled)" % idle
        stalled = [r for r in by_id.values() if r["id"] in why]
        stalled_ids = set(why)
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
            reason = why[record["id"]]
            if mine:
                incidents.append_entry(record, "ROLLBACK", "uncordoned %s: %s" % (
                    ", ".join(mine), reason), kind="undo", outcome="undone",
                    action="self_healing.uncordon_node", playbook=record.get("playbook"),
                    targets=[{"kind": "Node", "namespace": "", "name": n,
                                                "node": n} for n in mine])
            incidents.append_entry(record, "ESCALATE", "closed by reconcile: %s; a human "
                                   "should check %s" % (
                                       reason, record.get("playbook") or "the incident"),
                                   kind="escalation", cause="stalled",
                                   playbook=record.get("playbook"))
            incidents.apply_transition(record, "failed", "workflow stopped making progress")
            records.save(record)
            policy.release_incident(store, record["id"])  # interrupted: no cooldown
            rearm_signals(store, record)
            closed.append(record["id"])
        changed = bool(closed) or any(u["changed"] for u in undone)
        would = "; ".join(["close %s" % i for i in closed] + [u["would"] for u in undone]) \
            or "nothing stalled"
        return mutation_result(changed, dry_run, would, closed=closed, undone=undone)

    def _workflows_ended(self, record: Dict[str, Any]) -> str:
        """How every workflow execution of the incident ended ("wf-1 canceled"), or "" when
        one still runs, none is recorded, or StackStorm's API cannot say (staleness decides)."""
        owners = [str(o) for o in record.get("workflow_executions") or [] if o]
        if not owners:
            return ""
        if self.client is None:
            self.client = st2_links.client_from_environment()
        if self.client is None:
            return ""
        ended = []
        for owner in owners:
            state = st2_links.execution_ended(self.client, owner)
            if not state:  # still live, or the API cannot say
                return ""
            ended.append("execution %s %s" % (owner, state))
        return ", ".join(ended)


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

"""The shared result of evict_pods and drain_node: who was evicted, refused, skipped."""
from typing import Any, Dict, List

from lib.base_action import mutation_result
from lib.k8s_events import record_event


def summarise(kube: Any, node: str, criteria: str, split: Dict[str, Any], run: Dict[str, Any],
              incident_id: str, dry_run: bool) -> Dict[str, Any]:
    evicted = [e["pod"] for e in run["evictions"] if e["status"] == "evicted"]
    refused = [e for e in run["evictions"] if e["status"] == "refused"]
    failed = [e for e in run["evictions"] if e["status"] == "failed"]
    for ref in evicted:
        namespace, name = ref.split("/", 1)
        record_event(kube, "Pod", namespace, name, "Evicted",
                     "self-healing evicted pod %s from node %s" % (ref, node), incident_id)
    gone = [e["pod"] for e in run["evictions"] if e["status"] == "gone"]
    would = ("evict %s from node %s" % (", ".join(run["would_evict"]) or "no pods", node)
             if dry_run else "evicted %d pod(s) from node %s" % (len(evicted), node))
    return mutation_result(
        bool(evicted), dry_run, would, node=node, criteria=criteria, incident_id=incident_id,
        evicted=evicted, refused=[e["pod"] for e in refused], failed=failed,
        evictions=run["evictions"], would_evict=run["would_evict"],
        over_limit=run["over_limit"], selected=split["selected"],
        skipped=[{"pod": s["pod"], "reason": s["reason"]} for s in split["skipped"]],
        complete=not refused and not failed and not run["over_limit"],
        **_nothing_moved(run, evicted + gone, refused, failed, node, dry_run))


def _nothing_moved(run: Dict[str, Any], moved: List[str], refused: List[Dict[str, Any]],
                   failed: List[Dict[str, Any]], node: str,
                   dry_run: bool) -> Dict[str, Any]:
    """`ok: False` with the reason when pods were tried and not one left the node (every
    eviction refused by a PodDisruptionBudget or failing): the step achieved nothing, so the
    plan must stop, undo its earlier changes and hand over to a human."""
    if dry_run or moved or not run["evictions"]:
        return {}
    refused_by = "; ".join("%s: %s" % (e["pod"], (e.get("error") or e["status"])[:120])
                           for e in (refused + failed)[:3])
    return {"ok": False, "error": "no pod could be evicted from node %s (%d refused with 429, "
            "e.g. by a PodDisruptionBudget; %d failed): %s" % (node, len(refused), len(failed),
                                                     refused_by)}

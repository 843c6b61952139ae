"""Node remediation: cordon, uncordon (only the healer's own cordons), evict, drain.

Pods leave a node only through the Eviction API, so PodDisruptionBudgets are honoured: a 429
(the budget refuses) is retried with back-off through `clock.sleep` and then reported as
refused; the healer never deletes a pod to get around a budget.
"""
from typing import Any, Dict, List, Mapping, Optional, Sequence

from lib import clock
from lib import pod_selection as sel
from lib.base_action import ANN_CORDONED_BY, ANN_INCIDENT, ANNOTATION_PREFIX, HEALER
from lib.conflicts import retry_on_conflict
from lib.kube import KubeError

ANN_CORDONED_AT = ANNOTATION_PREFIX + "cordoned-at"
TRANSIENT = (0, 429, 500, 502, 503, 504)


def read_node(kube: Any, node: str) -> Any:
    return kube.call(kube.core.read_node, node)


def node_state(node_obj: Any) -> Dict[str, Any]:
    """Cordon state and the healer's marks on a node."""
    ann = node_obj.metadata.annotations or {}
    return {"unschedulable": bool(node_obj.spec.unschedulable),
            "cordoned_by": ann.get(ANN_CORDONED_BY, ""),
            "incident": ann.get(ANN_INCIDENT, ""),
            "cordoned_at": ann.get(ANN_CORDONED_AT, "")}


def cordon(kube: Any, node: str, incident_id: str = "", dry_run: bool = False) -> Dict[str, Any]:
    """Mark a node unschedulable and record that the healer did it (idempotent)."""
    def attempt() -> Dict[str, Any]:
        before = node_state(read_node(kube, node))
        if before["unschedulable"]:
            return {"changed": False, "before": before,
                    "would": "nothing: node %s is already cordoned%s" % (
                        node, " by " + before["cordoned_by"] if before["cordoned_by"] else "")}
        would = "cordon node %s" % node
        if dry_run:
            return {"changed": False, "before": before, "would": would}
        ann = {ANN_CORDONED_BY: HEALER, ANN_CORDONED_AT: clock.isoformat(clock.now()),
               ANN_INCIDENT: incident_id or None}
        kube.call(kube.core.patch_node, node,
                  {"metadata": {"annotations": ann}, "spec": {"unschedulable": True}})
        return {"changed": True, "before": before, "would": would}

    result = retry_on_conflict(attempt)
    result["node"] = node
    result["revert"] = {"action": "self_healing.uncordon_node",
                        "parameters": {"node": node}} if result["changed"] or (
        dry_run and not result["before"]["unschedulable"]) else None
    return result


def uncordon(kube: Any, node: str, force: bool = False, incident_id: str = "",
             dry_run: bool = False) -> Dict[str, Any]:
    """Make a node schedulable again, but only if the healer cordoned it (unless force)."""
    def attempt() -> Dict[str, Any]:
        before = node_state(read_node(kube, node))
        clear = {ANN_CORDONED_BY: None, ANN_CORDONED_AT: None, ANN_INCIDENT: None}
        if not before["unschedulable"]:
            return {"changed": False, "before": before,
                    "would": "nothing: node %s is schedulable" % node}
        if before["cordoned_by"] != HEALER and not force:
            return {"changed": False, "before": before, "refused": True,
                    "would": "nothing: node %s was not cordoned by the healer (use force)" % node}
        would = "uncordon node %s" % node
        if dry_run:
            return {"changed": False, "before": before, "would": would}
        kube.call(kube.core.patch_node, node,
                  {"metadata": {"annotations": clear}, "spec": {"unschedulable": False}})
        return {"changed": True, "before": before, "would": would}

    result = retry_on_conflict(attempt)
    result.setdefault("refused", False)
    result["node"] = node
    return result


def pods_on_node(kube: Any, node: str) -> List[Any]:
    resp = kube.call(kube.core.list_pod_for_all_namespaces,
                     field_selector="spec.nodeName=%s" % node)
    return list(resp.items or [])


def protected_reason(pod: Any, protected_namespaces: Sequence[str],
                     protected_labels: Mapping[str, str]) -> Optional[str]:
    """Why the healer must not touch this pod (protected namespace or label), or None."""
    ns = pod.metadata.namespace or ""
    if ns in protected_namespaces:
        return "protected namespace %s" % ns
    labels = pod.metadata.labels or {}
    for key, value in protected_labels.items():
        if labels.get(key) == value:
            return "protected label %s=%s" % (key, value)
    return None


def select_pods(pods: List[Any], criteria: str, protected_namespaces: Sequence[str],
                protected_labels: Mapping[str, str],
                only: Optional[Sequence[str]] = None) -> Dict[str, List[Dict[str, Any]]]:
    """Split pods into `selected` (lowest priority first) and `skipped` (with reasons)."""
    clauses = sel.parse_criteria(criteria)
    wanted = set(only or ())
    selected: List[Any] = []
    skipped: List[Dict[str, Any]] = []
    for pod in pods:
        facts = sel.pod_facts(pod)
        ref = "%s/%s" % (facts["namespace"], facts["name"])
        reason = sel.never_movable_reason(pod) or protected_reason(
            pod, protected_namespaces, protected_labels)
        if reason is None and wanted and ref not in wanted and facts["name"] not in wanted:
            reason = "not in the requested pods"
        if reason is None and not sel.matches(pod, clauses):
            reason = "does not match criteria"
        if reason:
            skipped.append({"pod": ref, "reason": reason, "facts": facts})
        else:
            selected.append(pod)
    selected.sort(key=lambda p: (int(p.spec.priority or 0), p.metadata.namespace,
                                 p.metadata.name))
    return {"selected": [sel.pod_facts(p) for p in selected], "skipped": skipped}


def evict_pod(kube: Any, namespace: str, name: str, attempts: int = 5,
              backoff_s: float = 5.0, max_backoff_s: float = 60.0,
              deadline: Optional[float] = None) -> Dict[str, Any]:
    """Evict one pod through the Eviction API; retry 429/5xx with back-off, never delete.

    No back-off sleeps past `deadline` (epoch): the retries stop there instead."""
    from kubernetes import client

    body = client.V1Eviction(metadata=client.V1ObjectMeta(name=name, namespace=namespace))
    last: Optional[KubeError] = None
    waited = 0.0
    tried = 0
    for attempt in range(max(1, attempts)):
        tried = attempt + 1
        try:
            kube.call(kube.core.create_namespaced_pod_eviction, name, namespace, body,
                      retry=False)
            return {"pod": "%s/%s" % (namespace, name), "status": "evicted",
                    "attempts": tried, "waited_s": waited}
        except KubeError as error:
            if error.status == 404:
                return {"pod": "%s/%s" % (namespace, name), "status": "gone",
                        "attempts": tried, "waited_s": waited}
            if error.status not in TRANSIENT:
                return {"pod": "%s/%s" % (namespace, name), "status": "failed",
                        "attempts": tried, "waited_s": waited, "error": str(error)}
            last = error
        if attempt + 1 < attempts:
            delay = min(max_backoff_s, backoff_s * (2 ** attempt))
            if deadline is not None and clock.now() + delay > deadline:
                break  # the next try would come after the eviction deadline
            clock.sleep(delay)
            waited += delay
    status = "refused" if last is not None and last.status == 429 else "failed"
    return {"pod": "%s/%s" % (namespace, name), "status": status, "attempts": tried,
            "waited_s": waited, "error": str(last)}


def evict_selected(kube: Any, selected: List[Dict[str, Any]], max_evictions: int,
                   dry_run: bool, attempts: int, backoff_s: float,
                   timeout_s: float = 0.0) -> Dict[str, Any]:
    """Evict up to `max_evictions` of the selected pods (or report them in dry run).

    With `timeout_s` > 0 the whole run (retries included) ends by then: pods not tried by
    the deadline are reported as failed ("not attempted"), so a PDB that keeps answering 429
    cannot hold the healer for attempts x back-off x pods."""
    planned = selected[:max(0, max_evictions)]
    over_limit = [p["namespace"] + "/" + p["name"] for p in selected[len(planned):]]
    if dry_run:
        return {"evictions": [], "would_evict": [p["namespace"] + "/" + p["name"]
                                                 for p in planned], "over_limit": over_limit}
    deadline = clock.now() + float(timeout_s) if timeout_s and timeout_s > 0 else None
    evictions = []
    for pod in planned:
        if deadline is not None and clock.now() >= deadline:
            evictions.append({"pod": "%s/%s" % (pod["namespace"], pod["name"]),
                              "status": "failed", "attempts": 0, "waited_s": 0.0,
                              "error": "not attempted: the eviction deadline (%ss) passed"
                                       % timeout_s})
            continue
        evictions.append(evict_pod(kube, pod["namespace"], pod["name"], attempts, backoff_s,
                                   deadline=deadline))
    return {"evictions": evictions, "would_evict": [], "over_limit": over_limit}


def node_is_ready(kube: Any, node: str) -> bool:
    """True when the node's Ready condition is True (its kubelet reports)."""
    for cond in read_node(kube, node).status.conditions or []:
        if cond.type == "Ready":
            return cond.status == "True"
    return False


def wait_pods_gone(kube: Any, node: str, refs: List[str], timeout_s: float,
                   poll_s: float) -> List[str]:
    """Wait until none of `refs` (ns/name) runs on the node; return those still there.

    A Terminating pod on a node that is not Ready counts as gone: no kubelet will confirm its
    deletion (it stays Terminating until the node returns or is deleted), and its controller
    has already replaced it elsewhere, so waiting for it would only run out the timeout."""
    deadline = clock.now() + max(0.0, timeout_s)
    remaining = list(refs)
    while remaining:
        pods = pods_on_node(kube, node)
        if any(p.metadata.deletion_timestamp for p in pods) and not node_is_ready(kube, node):
            pods = [p for p in pods if not p.metadata.deletion_timestamp]
        present = {"%s/%s" % (p.metadata.namespace, p.metadata.name) for p in pods}
        remaining = [ref for ref in remaining if ref in present]
        if not remaining or clock.now() >= deadline:
            break
        clock.sleep(poll_s)
    return remaining

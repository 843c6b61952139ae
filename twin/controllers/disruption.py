"""policy/v1 disruption: PodDisruptionBudget status and the Eviction subresource's checks.
"""
from typing import Any, Dict, List

from twin import selectors
from twin.controllers.objects import (
    _scaled,
    _set_condition,
    controller_ref,
    pod_ready,
    pod_terminal,
    record_event,
)
from twin.selectors import selector_string
from twin.store import InternalError, Store, TooManyRequests, iso


# --------------------------------------------------------------------------- eviction
def _pdb_status(store: Store, pdb: Dict[str, Any]) -> Dict[str, int]:
    ns = pdb["metadata"]["namespace"]
    spec = pdb.get("spec") or {}
    sel = selector_string(spec.get("selector"))
    pods = [p for p in store.list("pods", ns, sel, copy=False)[0]
            if not pod_terminal(p) and not p["metadata"].get("deletionTimestamp")]
    healthy = sum(1 for p in pods if pod_ready(p))
    expected = _expected_pods(store, pods)
    if spec.get("maxUnavailable") is not None:
        desired = expected - _scaled(spec["maxUnavailable"], expected, True)
    elif spec.get("minAvailable") is not None:
        desired = _scaled(spec["minAvailable"], expected, True)
    else:
        desired = expected
    desired = max(desired, 0)
    return {"expectedPods": expected, "currentHealthy": healthy, "desiredHealthy": desired,
            "disruptionsAllowed": max(healthy - desired, 0)}


def _expected_pods(store: Store, pods: List[Dict[str, Any]]) -> int:
    """Sum of the pods' top controllers' replicas (pods without one count themselves)."""
    seen: Dict[str, int] = {}
    loose = 0
    for p in pods:
        ref = controller_ref(p)
        if ref is None:
            loose += 1
            continue
        if ref["uid"] in seen:
            continue
        owner = store.by_uid(ref["uid"])
        if owner is None:
            loose += 1
            continue
        res, obj = owner
        top = controller_ref(obj) if res == "replicasets" else None
        if top is not None and store.by_uid(top["uid"]) is not None:
            if top["uid"] not in seen:
                seen[top["uid"]] = (store.by_uid(top["uid"])[1].get("spec") or {}).get(
                    "replicas", 1)
            seen[ref["uid"]] = 0
        else:
            seen[ref["uid"]] = (obj.get("spec") or {}).get("replicas", 1)
    return sum(seen.values()) + loose


def _budget_refusal(pdb: Dict[str, Any], status: Dict[str, int]) -> TooManyRequests:
    """The 429 an eviction gets when the PodDisruptionBudget does not allow it."""
    return TooManyRequests(
        "Cannot evict pod as it would violate the pod's disruption budget.",
        {"causes": [{"reason": "DisruptionBudget",
                     "message": "The disruption budget %s needs %d healthy pods and "
                                "has %d currently" % (pdb["metadata"]["name"],
                                                      status["desiredHealthy"],
                                                      status["currentHealthy"])}]})


def evict(store: Store, namespace: str, name: str, dry_run: bool = False) -> None:
    """Evict a pod like policy/v1 Eviction: 429 if a PDB allows no disruption, else delete."""
    pod = store.get("pods", namespace, name)
    labels = pod["metadata"].get("labels") or {}
    pdbs = [p for p in store.list("poddisruptionbudgets", namespace, copy=False)[0]
            if selectors.match_labels(selectors.selector_from_label_selector(
                (p.get("spec") or {}).get("selector")), labels)
            and (p.get("spec") or {}).get("selector")]
    if len(pdbs) > 1:
        raise InternalError("This pod has more than one PodDisruptionBudget, which the "
                            "eviction subresource does not support.")
    phase = (pod.get("status") or {}).get("phase", "Pending")
    ignore_pdb = pod_terminal(pod) or phase == "Pending" or bool(
        pod["metadata"].get("deletionTimestamp"))
    if pdbs and not ignore_pdb and not pod_ready(pod):
        # unhealthy pods: unhealthyPodEvictionPolicy IfHealthyBudget (default) / AlwaysAllow
        pdb = pdbs[0]
        status = _pdb_status(store, pdb)
        policy = (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy", "IfHealthyBudget")
        if policy != "AlwaysAllow" and status["currentHealthy"] < status["desiredHealthy"]:
            raise _budget_refusal(pdb, status)
    elif pdbs and not ignore_pdb:
        pdb = pdbs[0]
        status = _pdb_status(store, pdb)
        if status["disruptionsAllowed"] <= 0:
            raise _budget_refusal(pdb, status)
        if not dry_run:
            def spend(obj: Dict[str, Any]) -> None:
                st = obj.setdefault("status", {})
                st.update(status)
                st["disruptionsAllowed"] = status["disruptionsAllowed"] - 1
                st.setdefault("disruptedPods", {})[name] = iso(store.now_fn())
            store.mutate("poddisruptionbudgets", namespace, pdb["metadata"]["name"], spend)
    if not dry_run:
        store.delete("pods", namespace, name)
        record_event(store, pod, "Evicted", "Evicted pod %s" % name,
                     component="eviction-api")


class DisruptionController:
    """The disruption controller (PDB status)."""

    # ----------------------------------------------------------------- PDBs
    def reconcile_pdbs(self) -> None:
        now = iso(self.now_fn())
        changes = self._changes("pdbs")
        if changes is None:
            pdbs = self.store.list("poddisruptionbudgets", copy=False)[0]
        else:
            namespaces = sorted({obj["metadata"].get("namespace", "")
                                 for res, obj, _old in changes
                                 if res in ("pods", "poddisruptionbudgets", "replicasets",
                                            "deployments")})
            pdbs = [p for ns in namespaces
                    for p in self.store.list("poddisruptionbudgets", ns, copy=False)[0]]
        for pdb in pdbs:
            status = dict(_pdb_status(self.store, pdb))
            status["observedGeneration"] = pdb["metadata"].get("generation", 1)
            allowed = status["disruptionsAllowed"] > 0
            status["conditions"] = _set_condition(
                (pdb.get("status") or {}).get("conditions") or [], "DisruptionAllowed",
                "True" if allowed else "False",
                "SufficientPods" if allowed else "InsufficientPods", "", now)
            if (pdb.get("status") or {}) != status:
                md = pdb["metadata"]
                self.store.mutate("poddisruptionbudgets", md["namespace"], md["name"],
                                  lambda o, s=status: o.__setitem__("status", s))

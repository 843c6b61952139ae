"""Deployments (revisions, rolling update, history) and ReplicaSets (pods to match replicas).
"""
import hashlib
from typing import Any, Dict, List, Tuple

from twin.controllers.objects import (
    _neg,
    _qos,
    _scaled,
    _set_condition,
    controller_ref,
    owner_reference,
    pod_ready,
    pod_template,
    pod_terminal,
)
from twin.store import ApiError, NotFound, copy_obj, iso

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
HASH_LABEL = "pod-template-hash"


_SAFE = "bcdfghjklmnpqrstvwxz2456789"


_PLURAL = {"ReplicaSet": "replicasets", "ReplicationController": "replicationcontrollers"}


# --------------------------------------------------------------------------- templates
def _strip_hash(template: Dict[str, Any]) -> Dict[str, Any]:
    t = copy_obj(template or {})
    labels = (t.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(HASH_LABEL, None)
    return t


def templates_equal(a: Dict[str, Any], b: Dict[str, Any]) -> bool:
    """Pod templates equal ignoring the pod-template-hash label (EqualIgnoreHash)."""
    return _strip_hash(a) == _strip_hash(b)


def template_hash(template: Dict[str, Any], collision_count: int = 0) -> str:
    """A stable short hash of a pod template, encoded with the safe alphabet."""
    import json
    data = json.dumps(_strip_hash(template), sort_keys=True).encode()
    h = int.from_bytes(hashlib.sha256(data + str(collision_count).encode()).digest()[:5], "big")
    out = ""
    while h and len(out) < 10:
        out += _SAFE[h % len(_SAFE)]
        h //= len(_SAFE)
    return out


def _revision(obj: Dict[str, Any]) -> int:
    try:
        return int((obj["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


class WorkloadControllers:
    """The Deployment and ReplicaSet controllers."""

    # ----------------------------------------------------------------- deployments
    def _owned_rs(self, dep: Dict[str, Any]) -> List[Dict[str, Any]]:
        uid = dep["metadata"]["uid"]
        return [rs for rs in self.store.owned_by(uid, "replicasets")
                if (controller_ref(rs) or {}).get("uid") == uid]

    def reconcile_deployments(self) -> None:
        for dep in self._targets("deployments", "deployments", "replicasets"):
            try:
                self._reconcile_deployment(dep)
            except ApiError:  # gone or changed meanwhile: the next pass sees the new state
                continue

    def _reconcile_deployment(self, dep: Dict[str, Any]) -> None:
        store = self.store
        md, spec = dep["metadata"], dep.get("spec") or {}
        ns, name = md["namespace"], md["name"]
        desired = int(spec.get("replicas", 1))
        template = spec.get("template") or {}
        rss = self._owned_rs(dep)
        max_rev = max([_revision(rs) for rs in rss] or [0])
        new_rs = next((rs for rs in rss if templates_equal(
            (rs.get("spec") or {}).get("template") or {}, template)), None)
        if spec.get("paused"):
            return
        olds = [rs for rs in rss if new_rs is None or rs["metadata"]["uid"] !=
                new_rs["metadata"]["uid"]]
        if new_rs is None:
            new_rs = self._create_rs(dep, max_rev + 1, 0 if any(
                (rs.get("spec") or {}).get("replicas", 0) for rs in olds) else desired)
        elif _revision(new_rs) < max_rev:
            old_rev = _revision(new_rs)

            def renumber(obj: Dict[str, Any]) -> None:
                ann = obj["metadata"].setdefault("annotations", {})
                hist = [h for h in ann.get(REVISION_HISTORY, "").split(",") if h]
                ann[REVISION_HISTORY] = ",".join(hist + [str(old_rev)])
                ann[REVISION] = str(max_rev + 1)
            new_rs = store.mutate("replicasets", ns, new_rs["metadata"]["name"], renumber)
        rev = str(_revision(new_rs))
        if (md.get("annotations") or {}).get(REVISION) != rev:
            store.mutate("deployments", ns, name, lambda o: o["metadata"].setdefault(
                "annotations", {}).__setitem__(REVISION, rev))
        self._rollout(dep, desired, new_rs, olds)
        self._cleanup_history(spec, olds)

    def _create_rs(self, dep: Dict[str, Any], revision: int, replicas: int) -> Dict[str, Any]:
        md, spec = dep["metadata"], dep.get("spec") or {}
        template = copy_obj(spec.get("template") or {})
        collisions = int((dep.get("status") or {}).get("collisionCount") or 0)
        while True:
            h = template_hash(template, collisions)
            if not self.store.exists("replicasets", md["namespace"], "%s-%s" % (md["name"], h)):
                break
            collisions += 1  # a different template already owns that name: rehash
        if collisions:
            self.store.mutate("deployments", md["namespace"], md["name"],
                              lambda o: o.setdefault("status", {}).__setitem__(
                                  "collisionCount", collisions))
        tmd = template.setdefault("metadata", {})
        tmd.setdefault("labels", {})[HASH_LABEL] = h
        selector = copy_obj(spec.get("selector") or {"matchLabels": {}})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = h
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {
            "name": "%s-%s" % (md["name"], h), "namespace": md["namespace"],
            "labels": dict(tmd["labels"]),
            "annotations": {REVISION: str(revision),
                            "deployment.kubernetes.io/desired-replicas":
                                str(spec.get("replicas", 1))},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                 "name": md["name"], "uid": md["uid"], "controller": True,
                                 "blockOwnerDeletion": True}]},
            "spec": {"replicas": replicas, "selector": selector, "template": template,
                     "minReadySeconds": spec.get("minReadySeconds", 0)},
            "status": {"replicas": 0, "observedGeneration": 0}}
        created = self.store.create("replicasets", rs)
        if replicas:
            self._event(dep, "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d"
                        % (rs["metadata"]["name"], replicas), component="deployment-controller")
        return created

    def _scale_rs(self, dep: Dict[str, Any], rs: Dict[str, Any], replicas: int) -> None:
        old = (rs.get("spec") or {}).get("replicas", 0)
        if old == replicas:
            return
        self.store.mutate("replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"],
                          lambda o: o["spec"].__setitem__("replicas", replicas))
        rs.setdefault("spec", {})["replicas"] = replicas
        self._event(dep, "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d"
                    % ("up" if replicas > old else "down", rs["metadata"]["name"], old,
                       replicas), component="deployment-controller")

    def _rollout(self, dep: Dict[str, Any], desired: int, new_rs: Dict[str, Any],
                 olds: List[Dict[str, Any]]) -> None:
        spec = dep.get("spec") or {}
        strategy = spec.get("strategy") or {}
        new_rs = copy_obj(new_rs)
        olds = [copy_obj(o) for o in olds]
        active_olds = [o for o in olds if (o.get("spec") or {}).get("replicas", 0) > 0]
        if strategy.get("type") == "Recreate":
            if active_olds:
                for o in active_olds:
                    self._scale_rs(dep, o, 0)
                return
            if any(self.store.owned_by(o["metadata"]["uid"], "pods") for o in olds):
                return
            self._scale_rs(dep, new_rs, desired)
            return
        ru = strategy.get("rollingUpdate") or {}
        surge = _scaled(ru.get("maxSurge", "25%"), desired, True)
        unavail = _scaled(ru.get("maxUnavailable", "25%"), desired, False)
        if surge == 0 and unavail == 0:
            unavail = 1
        if not active_olds:
            self._scale_rs(dep, new_rs, desired)
            return
        total = sum((rs.get("spec") or {}).get("replicas", 0) for rs in [new_rs] + olds)
        new_n = (new_rs.get("spec") or {}).get("replicas", 0)
        if new_n < desired:
            allowed = desired + surge - total
            if allowed > 0:
                self._scale_rs(dep, new_rs, min(desired, new_n + allowed))
        elif new_n > desired:
            self._scale_rs(dep, new_rs, desired)
        total = sum((rs.get("spec") or {}).get("replicas", 0) for rs in [new_rs] + olds)
        min_available = desired - unavail
        new_available = self._available(new_rs)
        new_unavailable = (new_rs.get("spec") or {}).get("replicas", 0) - new_available
        budget = total - min_available - new_unavailable
        for o in sorted(active_olds, key=_revision):
            if budget <= 0:
                break
            n = (o.get("spec") or {}).get("replicas", 0)
            # unavailable old pods go first and do not count against availability
            o_unavail = n - self._available(o)
            cut = min(n, budget + o_unavail) if o_unavail > 0 else min(n, budget)
            self._scale_rs(dep, o, n - cut)
            budget -= max(cut - o_unavail, 0)

    def _available(self, rs: Dict[str, Any]) -> int:
        return sum(1 for p in self.store.owned_by(rs["metadata"]["uid"], "pods")
                   if pod_ready(p) and not pod_terminal(p))

    def _cleanup_history(self, spec: Dict[str, Any], olds: List[Dict[str, Any]]) -> None:
        limit = int(spec.get("revisionHistoryLimit", 10))
        idle = sorted([o for o in olds if (o.get("spec") or {}).get("replicas", 0) == 0
                       and not self.store.owned_by(o["metadata"]["uid"], "pods")],
                      key=_revision)
        for o in idle[:max(len(idle) - limit, 0)]:
            try:
                self.store.delete("replicasets", o["metadata"]["namespace"],
                                  o["metadata"]["name"])
            except NotFound:
                pass

    def reconcile_deployment_status(self) -> None:
        now = iso(self.now_fn())
        for dep in self._targets("deployment_status", "deployments", "replicasets"):
            md, spec = dep["metadata"], dep.get("spec") or {}
            rss = self._owned_rs(dep)
            template = spec.get("template") or {}
            new_rs = next((rs for rs in rss if templates_equal(
                (rs.get("spec") or {}).get("template") or {}, template)), None)
            desired = int(spec.get("replicas", 1))
            st = lambda rs, k: (rs.get("status") or {}).get(k, 0)  # noqa: E731
            replicas = sum(st(rs, "replicas") for rs in rss)
            ready = sum(st(rs, "readyReplicas") for rs in rss)
            available = sum(st(rs, "availableReplicas") for rs in rss)
            updated = st(new_rs, "replicas") if new_rs else 0
            ru = (spec.get("strategy") or {}).get("rollingUpdate") or {}
            unavail = _scaled(ru.get("maxUnavailable", "25%"), desired, False)
            complete = (new_rs is not None and updated == desired and replicas == desired
                        and available >= desired)
            status: Dict[str, Any] = {"observedGeneration": md.get("generation", 1),
                                      "replicas": replicas, "updatedReplicas": updated,
                                      "readyReplicas": ready, "availableReplicas": available,
                                      "unavailableReplicas": max(replicas - available, 0)}
            conds = (dep.get("status") or {}).get("conditions") or []
            if available >= desired - unavail:
                conds = _set_condition(conds, "Available", "True", "MinimumReplicasAvailable",
                                       "Deployment has minimum availability.", now)
            else:
                conds = _set_condition(conds, "Available", "False",
                                       "MinimumReplicasUnavailable",
                                       "Deployment does not have minimum availability.", now)
            rs_name = new_rs["metadata"]["name"] if new_rs else ""
            if complete:
                conds = _set_condition(conds, "Progressing", "True", "NewReplicaSetAvailable",
                                       'ReplicaSet "%s" has successfully progressed.'
                                       % rs_name, now)
            else:
                conds = _set_condition(conds, "Progressing", "True", "ReplicaSetUpdated",
                                       'ReplicaSet "%s" is progressing.' % rs_name, now)
            status["conditions"] = conds
            if (dep.get("status") or {}).get("collisionCount"):
                status["collisionCount"] = dep["status"]["collisionCount"]
            for k in ("readyReplicas", "availableReplicas", "unavailableReplicas",
                      "updatedReplicas"):
                if not status[k]:
                    del status[k]
            if (dep.get("status") or {}) != status:
                try:
                    self.store.mutate("deployments", md["namespace"], md["name"],
                                      lambda o, s=status: o.__setitem__("status", s),
                                      copy_result=False)
                except NotFound:
                    pass

    # ----------------------------------------------------------------- replicasets
    def _rs_pods(self, rs: Dict[str, Any]) -> List[Dict[str, Any]]:
        uid = rs["metadata"]["uid"]
        return [p for p in self.store.owned_by(uid, "pods")
                if (controller_ref(p) or {}).get("uid") == uid and not pod_terminal(p)
                and not p["metadata"].get("deletionTimestamp")]

    def reconcile_replicasets(self) -> None:
        """ReplicaSets and (legacy core/v1) ReplicationControllers: pods to spec.replicas."""
        rcs = self.store.list("replicationcontrollers", copy=False)[0]
        for rs in self._targets("replicasets", "replicasets", "pods") + rcs:
            want = int((rs.get("spec") or {}).get("replicas", 1))
            pods = self._rs_pods(rs)
            if len(pods) < want:
                for _ in range(want - len(pods)):
                    self._create_pod(rs)
            elif len(pods) > want:
                victims = sorted(pods, key=_deletion_rank)[:len(pods) - want]
                for p in victims:
                    try:
                        self.store.delete("pods", p["metadata"]["namespace"],
                                          p["metadata"]["name"])
                    except NotFound:
                        pass
                if self.emit_events:
                    self._event(rs, "SuccessfulDelete", "Deleted %d pod(s)" % len(victims),
                                component="replicaset-controller")

    def reconcile_replicaset_status(self) -> None:
        rcs = self.store.list("replicationcontrollers", copy=False)[0]
        for rs in self._targets("replicaset_status", "replicasets", "pods") + rcs:
            pods = self._rs_pods(rs)
            ready = sum(1 for p in pods if pod_ready(p))
            status = {"replicas": len(pods), "fullyLabeledReplicas": len(pods),
                      "readyReplicas": ready, "availableReplicas": ready,
                      "observedGeneration": rs["metadata"].get("generation", 1)}
            for k in ("readyReplicas", "availableReplicas", "fullyLabeledReplicas"):
                if not status[k]:
                    del status[k]
            if (rs.get("status") or {}) != status:
                try:
                    self.store.mutate(_PLURAL[rs.get("kind", "ReplicaSet")],
                                      rs["metadata"]["namespace"],
                                      rs["metadata"]["name"],
                                      lambda o, s=status: o.__setitem__("status", s),
                                      copy_result=False)
                except NotFound:
                    pass

    def _create_pod(self, rs: Dict[str, Any]) -> Dict[str, Any]:
        md = rs["metadata"]
        _template, tmd, spec = pod_template(rs)
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {
            "generateName": md["name"] + "-", "namespace": md["namespace"],
            "labels": tmd.get("labels") or {}, "annotations": tmd.get("annotations") or {},
            "ownerReferences": [owner_reference(rs, rs.get("apiVersion", "apps/v1"),
                                                rs.get("kind", "ReplicaSet"))]},
            "spec": spec, "status": {"phase": "Pending", "qosClass": _qos(spec)}}
        if not pod["metadata"]["annotations"]:
            del pod["metadata"]["annotations"]
        return self._create_owned_pod(rs, pod, "replicaset-controller")


def _deletion_rank(pod: Dict[str, Any]) -> Tuple[int, int, int, str, str]:
    """Pods deleted first: unscheduled, pending, not ready, then newest (like the real RS)."""
    st = pod.get("status") or {}
    return (0 if not (pod.get("spec") or {}).get("nodeName") else 1,
            0 if st.get("phase") == "Pending" else 1,
            1 if pod_ready(pod) else 0,
            _neg(pod["metadata"].get("creationTimestamp", "")), pod["metadata"]["name"])

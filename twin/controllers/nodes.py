"""Nodes: Cluster API node pools (MachineDeployment replicas -> nodes) and the node
lifecycle controller (cordon/not-ready/unreachable taints, taint-based eviction).
"""
from typing import Any, Dict, List, Optional, Tuple

from twin.controllers.objects import _cond, _epoch_of, _neg, node_ready, pod_terminal
from twin.store import NotFound, copy_obj, iso

POOL_LABEL = "node-pool"
CAPI_POOL_LABEL = "cluster.x-k8s.io/deployment-name"
DELAY_ANNOTATION = "twin.self-healing.io/provision-delay-s"
CAPACITY_PREFIX = "capacity.cluster-autoscaler.kubernetes.io/"


DEFAULT_TOLERATION_S = 300


class NodeControllers:
    """Node pools and node lifecycle."""

    # ----------------------------------------------------------------- node pools
    def reconcile_node_pools(self) -> None:
        now = self.now_fn()
        for md_obj in self.store.list("machinedeployments", copy=False)[0]:
            md = md_obj["metadata"]
            pool = md["name"]
            want = int((md_obj.get("spec") or {}).get("replicas", 0))
            nodes = self.store.list("nodes", label_selector="%s=%s" % (POOL_LABEL, pool),
                                    copy=False)[0]
            key = (md["namespace"], pool)
            pending = self.provisioning.setdefault(key, [])
            delay = float((md.get("annotations") or {}).get(
                DELAY_ANNOTATION, self.node_provision_delay_s))
            for ready_at in [t for t in pending if t <= now]:
                pending.remove(ready_at)
                self._add_node(md_obj, nodes)
            nodes = self.store.list("nodes", label_selector="%s=%s" % (POOL_LABEL, pool),
                                    copy=False)[0]
            have = len(nodes) + len(pending)
            if have < want:
                pending.extend([now + delay] * (want - have))
            elif have > want:
                extra = have - want
                while extra and pending:
                    pending.pop()
                    extra -= 1
                victims = sorted(nodes, key=lambda n: (
                    not (n.get("spec") or {}).get("unschedulable"), node_ready(n),
                    _neg(n["metadata"].get("creationTimestamp", "")), n["metadata"]["name"]))
                for n in victims[:extra]:
                    self._remove_node(n)
            self._pool_status(md_obj, pending)

    def _add_node(self, md_obj: Dict[str, Any], pool_nodes: List[Dict[str, Any]]) -> None:
        md = md_obj["metadata"]
        pool = md["name"]
        ann = md.get("annotations") or {}
        now = iso(self.now_fn())
        if pool_nodes:
            base = copy_obj(pool_nodes[0])
            capacity = (base.get("status") or {}).get("capacity") or {}
            allocatable = (base.get("status") or {}).get("allocatable") or capacity
            labels = base["metadata"].get("labels") or {}
        else:
            capacity = {"cpu": ann.get(CAPACITY_PREFIX + "cpu", "4"),
                        "memory": ann.get(CAPACITY_PREFIX + "memory", "16Gi"),
                        "pods": ann.get(CAPACITY_PREFIX + "maxPods", "110")}
            allocatable = dict(capacity)
            labels = {}
        name = "%s-%s" % (pool, self.store.random_suffix(6))
        labels = dict(labels, **{POOL_LABEL: pool, CAPI_POOL_LABEL: pool,
                                 "kubernetes.io/hostname": name})
        conds = [{"type": t, "status": "False", "reason": "Kubelet" + r,
                  "lastHeartbeatTime": now, "lastTransitionTime": now}
                 for t, r in (("MemoryPressure", "HasSufficientMemory"),
                              ("DiskPressure", "HasNoDiskPressure"),
                              ("PIDPressure", "HasSufficientPID"))]
        conds.append({"type": "Ready", "status": "True", "reason": "KubeletReady",
                      "message": "kubelet is posting ready status", "lastHeartbeatTime": now,
                      "lastTransitionTime": now})
        node = {"metadata": {"name": name, "labels": labels, "annotations": {
            "cluster.x-k8s.io/machine": name, "cluster.x-k8s.io/owner-kind": "MachineSet",
            "cluster.x-k8s.io/owner-name": pool}},
            "spec": {"providerID": "twin://%s" % name},
            "status": {"capacity": dict(capacity), "allocatable": dict(allocatable),
                       "conditions": conds, "nodeInfo": {"kubeletVersion": "v1.31.0"},
                       "addresses": [{"type": "Hostname", "address": name}]}}
        created = self.store.create("nodes", node)
        self._event(created, "RegisteredNode", "Node %s event: Registered Node %s in "
                    "Controller" % (name, name), component="node-controller")

    def _remove_node(self, node: Dict[str, Any]) -> None:
        name = node["metadata"]["name"]
        for p in list(self.store.pods_on_node(name)):
            try:
                self.store.delete("pods", p["metadata"]["namespace"], p["metadata"]["name"])
            except NotFound:
                pass
        try:
            self.store.delete("nodes", None, name)
        except NotFound:
            pass

    def _pool_status(self, md_obj: Dict[str, Any], pending: List[float]) -> None:
        md = md_obj["metadata"]
        nodes = self.store.list("nodes", label_selector="%s=%s" % (POOL_LABEL, md["name"]),
                                copy=False)[0]
        ready = sum(1 for n in nodes if node_ready(n))
        want = int((md_obj.get("spec") or {}).get("replicas", 0))
        phase = "ScalingUp" if len(nodes) < want else (
            "ScalingDown" if len(nodes) > want else "Running")
        status = {"observedGeneration": md.get("generation", 1),
                  "selector": "%s=%s" % (CAPI_POOL_LABEL, md["name"]),
                  "replicas": len(nodes) + len(pending), "updatedReplicas": len(nodes),
                  "readyReplicas": ready, "availableReplicas": ready,
                  "unavailableReplicas": max(want - ready, 0), "phase": phase}
        if (md_obj.get("status") or {}) != status:
            self.store.mutate("machinedeployments", md["namespace"], md["name"],
                              lambda o: o.__setitem__("status", status))

    # ----------------------------------------------------------------- node lifecycle
    def reconcile_node_lifecycle(self) -> int:
        """Taints like the node lifecycle controller (unschedulable:NoSchedule on cordon,
        not-ready/unreachable:NoExecute while not Ready) and taint-based eviction: pods that
        do not tolerate a NoExecute taint go at once, the rest after their tolerationSeconds
        (DEFAULT_TOLERATION_S for pods without a toleration for it, as the admission plugin
        adds). Returns the number of pods evicted."""
        now = self.now_fn()
        evicted = 0
        for node in self.store.list("nodes", copy=False)[0]:
            name = node["metadata"]["name"]
            wanted = _lifecycle_taints(node)
            current = (node.get("spec") or {}).get("taints") or []
            managed = [t for t in current if t.get("key") in _LIFECYCLE_KEYS]
            if sorted((t["key"], t["effect"]) for t in managed) != sorted(wanted):
                others = [t for t in current if t.get("key") not in _LIFECYCLE_KEYS]
                keep = [t for t in managed if (t["key"], t["effect"]) in wanted]
                have = {(t["key"], t["effect"]) for t in keep}
                added = [{"key": k, "effect": e, "timeAdded": iso(now)}
                         for k, e in wanted if (k, e) not in have]
                taints = others + keep + added

                def set_taints(obj: Dict[str, Any], taints: List[Dict[str, Any]] = taints
                               ) -> None:
                    spec = obj.setdefault("spec", {})
                    if taints:
                        spec["taints"] = taints
                    else:
                        spec.pop("taints", None)
                node = self.store.mutate("nodes", None, name, set_taints, copy_result=False)
            for taint in (node.get("spec") or {}).get("taints") or []:
                if taint.get("effect") != "NoExecute":
                    continue
                since = _epoch_of(taint.get("timeAdded", "")) or now
                for pod in list(self.store.pods_on_node(name)):
                    if pod_terminal(pod):
                        continue
                    grace = _toleration_seconds(pod, taint)
                    if grace is None or now < since + grace:
                        continue
                    md = pod["metadata"]
                    try:
                        self.store.delete("pods", md["namespace"], md["name"])
                    except NotFound:
                        continue
                    evicted += 1
                    self._event(pod, "TaintManagerEviction", "Marking for deletion Pod %s/%s"
                                % (md["namespace"], md["name"]),
                                component="taint-eviction-controller")
        return evicted


_LIFECYCLE_KEYS = ("node.kubernetes.io/unschedulable", "node.kubernetes.io/not-ready",
                   "node.kubernetes.io/unreachable")


def _lifecycle_taints(node: Dict[str, Any]) -> List[Tuple[str, str]]:
    out = []
    if (node.get("spec") or {}).get("unschedulable"):
        out.append(("node.kubernetes.io/unschedulable", "NoSchedule"))
    ready = _cond(node, "Ready")
    status = ready.get("status") if ready else "Unknown"
    if status == "False":
        out.append(("node.kubernetes.io/not-ready", "NoExecute"))
    elif status != "True":
        out.append(("node.kubernetes.io/unreachable", "NoExecute"))
    return out


def _toleration_seconds(pod: Dict[str, Any], taint: Dict[str, Any]) -> Optional[float]:
    """Seconds the pod may stay under a NoExecute taint (None = forever)."""
    for t in (pod.get("spec") or {}).get("tolerations") or []:
        if t.get("effect") not in (None, "", "NoExecute"):
            continue
        matches = (t.get("operator") == "Exists" and t.get("key") in (None, "", taint["key"])
                   ) or (t.get("key") == taint["key"] and
                         t.get("value", "") == taint.get("value", ""))
        if matches:
            seconds = t.get("tolerationSeconds")
            return None if seconds is None else max(float(seconds), 0.0)
    if taint["key"] in _LIFECYCLE_KEYS:
        return float(DEFAULT_TOLERATION_S)
    return 0.0

"""A small cluster on the twin's API server for the remediation action tests.

The actions reach it exactly as a real cluster: the official client, a generated kubeconfig
for the pack's ServiceAccount, RBAC enforced (PACK_RBAC = what these actions need). The pack's
clock is the twin's virtual clock; `clock.sleep` advances it and runs the controllers.
"""
import os
import shutil
import tempfile
from typing import Any, Dict, List, Optional

from lib import clock
from twin.apiserver import ServedApi
from twin.controllers import Controllers
from twin.store import Store

START = 1795835842.0  # 2026-11-28T03:17:22Z

PACK_RBAC: List[Dict[str, Any]] = [
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
     "metadata": {"name": "self-healing-remediation"},
     "rules": [
         {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "patch"]},
         {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
         {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
         {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
         {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
         {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "patch"]},
         {"apiGroups": ["apps"], "resources": ["deployments"],
          "verbs": ["get", "list", "patch"]},
         {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["get", "list"]},
         {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "patch"]},
         {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"],
          "verbs": ["list"]},
         {"apiGroups": ["networking.istio.io"], "resources": ["destinationrules"],
          "verbs": ["get", "list", "create", "update", "delete"]},
         {"apiGroups": ["cluster.x-k8s.io"], "resources": ["machinedeployments"],
          "verbs": ["get", "patch"]},
         {"apiGroups": ["cluster.x-k8s.io"], "resources": ["machinedeployments/scale"],
          "verbs": ["patch"]},
     ]},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
     "metadata": {"name": "self-healing-remediation"},
     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                 "name": "self-healing-remediation"},
     "subjects": [{"kind": "ServiceAccount", "name": "self-healing",
                   "namespace": "self-healing"}]},
]


class VirtualTime:
    """Virtual epoch; sleeping advances it and runs the controllers once per 15 s."""

    def __init__(self, start: float = START) -> None:
        self.t = start
        self.ctl: Optional[Controllers] = None
        self.slept: List[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        remaining = seconds
        while remaining > 0:
            step = min(15.0, remaining)
            self.t += step
            remaining -= step
            if self.ctl is not None:
                self.ctl.step()


def node(name: str, pool: str = "pool-1", taint: bool = False) -> Dict[str, Any]:
    spec: Dict[str, Any] = {}
    if taint:
        spec["taints"] = [{"key": "dedicated", "value": "infra", "effect": "NoSchedule"}]
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"node-pool": pool,
                                                  "kubernetes.io/hostname": name}},
            "spec": spec,
            "status": {"capacity": {"cpu": "16", "memory": "64Gi", "pods": "110"},
                       "allocatable": {"cpu": "16", "memory": "64Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def deployment(name: str, namespace: str = "prod", replicas: int = 2, version: str = "v1.4.1",
               priority_class: str = "") -> Dict[str, Any]:
    pod_spec: Dict[str, Any] = {"containers": [{
        "name": name, "image": "registry.local/%s:%s" % (name, version),
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"},
                      "limits": {"memory": "1Gi"}}}]}
    if priority_class:
        pod_spec["priorityClassName"] = priority_class
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec}}}


def bare_pod(name: str, namespace: str, node_name: str, owner_kind: str = "",
             annotations: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    md: Dict[str, Any] = {"name": name, "namespace": namespace, "labels": {"app": name}}
    if owner_kind:
        md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner_kind, "name": name,
                                  "uid": "uid-%s" % name, "controller": True}]
    if annotations:
        md["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md,
            "spec": {"nodeName": node_name, "priority": 0,
                     "containers": [{"name": name, "image": "registry.local/%s:v1" % name}]},
            "status": {"phase": "Running",
                       "conditions": [{"type": "Ready", "status": "True"}]}}


class TwinCluster:
    """Store + controllers + API server on loopback with the workloads the tests use.

    Nodes `node-a` (schedulable) and `node-b` (tainted, so workloads land on node-a) form
    MachineDeployment `pool-1`. Namespace `prod`: Deployment `analytics-worker` at revision 2
    (v1.4.1 -> v1.4.2), `web` (2 replicas, PDB minAvailable 2: evictions are refused),
    `batch` (priority class high-priority), a DaemonSet pod, a mirror pod and a bare pod on
    node-a, and a `kube-system` pod there too. ConfigMap `orders-db-pool` maximumPoolSize 10.
    """

    def __init__(self, with_workloads: bool = True, tls: bool = False) -> None:
        self.workdir = tempfile.mkdtemp(prefix="sh-actions-")
        self.time = VirtualTime()
        self.store = Store(now_fn=self.time.now, seed=11)
        self.ctl = Controllers(self.store, now_fn=self.time.now, seed=11,
                               node_provision_delay_s=60.0)
        self.time.ctl = self.ctl
        self.api = ServedApi.start(self.store, os.path.join(self.workdir, "kube"),
                                   rbac_docs=PACK_RBAC, tls=tls)
        self.kubeconfig = self.api.kubeconfigs["pack"]
        clock.set_time_source(self.time.now, self.time.sleep)
        self.store.create("nodes", node("node-a"))
        self.store.create("nodes", node("node-b", taint=True))
        self.store.create("machinedeployments", {
            "apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "MachineDeployment",
            "metadata": {"name": "pool-1", "namespace": "default"},
            "spec": {"clusterName": "twin", "replicas": 2,
                     "selector": {"matchLabels": {"cluster.x-k8s.io/deployment-name":
                                                  "pool-1"}},
                     "template": {"spec": {"clusterName": "twin"}}}})
        if with_workloads:
            self._workloads()

    @property
    def faults(self) -> Any:
        return self.api.faults

    def config(self, **extra: Any) -> Dict[str, Any]:
        """A pack config pointing at this twin."""
        cfg: Dict[str, Any] = {"kubernetes": {"kubeconfig": self.kubeconfig,
                                              "request_timeout_s": 5},
                               "prometheus": {"url": "http://127.0.0.1:9", "timeout_s": 1},
                               "nats": {"url": "nats://127.0.0.1:9"}}
        cfg.update(extra)
        return cfg

    def steps(self, n: int = 1) -> None:
        for _ in range(n):
            self.time.t += 15.0
            self.ctl.step()

    def _workloads(self) -> None:
        create = self.store.create
        create("deployments", deployment("analytics-worker", version="v1.4.1"))
        self.steps(3)
        self.time.t += 47 * 60 - 45
        dep = self.store.get("deployments", "prod", "analytics-worker")
        dep["spec"]["template"]["spec"]["containers"][0]["image"] = \
            "registry.local/analytics-worker:v1.4.2"
        self.store.update("deployments", dep)
        create("deployments", deployment("web", replicas=2))
        create("poddisruptionbudgets", {
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "web", "namespace": "prod"},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}})
        create("deployments", deployment("batch", replicas=1, priority_class="high-priority"))
        create("deployments", deployment("orders", replicas=2))
        create("configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": "orders-db-pool", "namespace": "prod"},
                              "data": {"maximumPoolSize": "10"}})
        create("pods", bare_pod("node-exporter-x1", "prod", "node-a", owner_kind="DaemonSet"))
        create("pods", bare_pod("static-web-node-a", "prod", "node-a",
                                annotations={"kubernetes.io/config.mirror": "abc"}))
        create("pods", bare_pod("debug-shell", "prod", "node-a"))
        create("pods", bare_pod("coredns-1", "kube-system", "node-a", owner_kind="ReplicaSet"))
        self.steps(6)

    def pods(self, namespace: str = "prod", app: str = "") -> List[Dict[str, Any]]:
        sel = "app=%s" % app if app else None
        return self.store.list("pods", namespace, label_selector=sel)[0]

    def pods_on(self, node_name: str) -> List[str]:
        return sorted("%s/%s" % (p["metadata"]["namespace"], p["metadata"]["name"])
                      for p in self.store.pods_on_node(node_name))

    def stop(self) -> None:
        clock.reset()
        self.api.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

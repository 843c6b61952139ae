"""Shared set-up for the twin API tests: a store, controllers and an API server on loopback,
reached only through the official `kubernetes` client built from generated kubeconfigs."""
import os
from typing import Any, Dict, Iterator, List, Optional, Sequence

from kubernetes import client, config

from twin.apiserver import ServedApi
from twin.controllers import Controllers
from twin.store import Store

START = 1795835842.0  # 2026-11-28T03:17:22Z, the seed story's detection time

# A pack-like ClusterRole used until deploy/rbac.yaml exists (and for the 403 test).
RBAC_FIXTURE: List[Dict[str, Any]] = [
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
     "metadata": {"name": "self-healing"},
     "rules": [
         {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch", "patch"]},
         {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
         {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
         {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
         {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "list"]},
         {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "patch"],
          "resourceNames": ["web-db-pool"]},
         {"apiGroups": ["apps"], "resources": ["deployments", "replicasets"],
          "verbs": ["get", "list", "watch"]},
         {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["patch"]},
         {"apiGroups": ["apps"], "resources": ["deployments/scale"],
          "verbs": ["get", "patch"]},
         {"apiGroups": ["cluster.x-k8s.io"], "resources": ["machinedeployments/scale"],
          "verbs": ["get", "patch"]},
     ]},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
     "metadata": {"name": "self-healing"},
     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                 "name": "self-healing"},
     "subjects": [{"kind": "ServiceAccount", "name": "self-healing",
                   "namespace": "self-healing"}]},
]


class Clock:
    """A hand-driven virtual clock."""

    def __init__(self, start: float = START) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class Clients:
    """Typed API objects for one kubeconfig."""

    def __init__(self, kubeconfig: str) -> None:
        self.api_client = config.new_client_from_config(kubeconfig)
        self.core = client.CoreV1Api(self.api_client)
        self.apps = client.AppsV1Api(self.api_client)
        self.policy = client.PolicyV1Api(self.api_client)
        self.autoscaling = client.AutoscalingV2Api(self.api_client)
        self.custom = client.CustomObjectsApi(self.api_client)


class Twin:
    """Store + controllers + API server; `admin` and `sa` clients."""

    def __init__(self, workdir: str, rbac_docs: Optional[List[Dict[str, Any]]] = None,
                 provision_delay_s: float = 120.0, tls: bool = False) -> None:
        self.clock = Clock()
        self.store = Store(now_fn=self.clock.now, seed=7)
        self.ctl = Controllers(self.store, seed=7, node_provision_delay_s=provision_delay_s)
        self.api = ServedApi.start(self.store, os.path.join(workdir, "kube"),
                                   rbac_docs=rbac_docs if rbac_docs is not None
                                   else RBAC_FIXTURE, tls=tls)
        self.admin = Clients(self.api.kubeconfigs["admin"])
        self.sa = Clients(self.api.kubeconfigs["pack"])

    def steps(self, n: int = 1, seconds: float = 15.0) -> None:
        for _ in range(n):
            self.clock.advance(seconds)
            self.ctl.step()

    def stop(self) -> None:
        self.api.stop()


def running(workdir: str, nodes: Sequence[str] = ("node-a", "node-b"),
            **kwargs: Any) -> Iterator[Twin]:
    """A fixture body: a Twin with `nodes` created, stopped afterwards
    (`yield from running(str(tmp_path))`)."""
    t = Twin(workdir, **kwargs)
    try:
        for name in nodes:
            t.admin.core.create_node(node(name))
        yield t
    finally:
        t.stop()


def node(name: str, pool: str = "pool-a", cpu: str = "4", memory: str = "16Gi",
         pods: str = "110", ready: bool = True) -> Dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"node-pool": pool}},
            "spec": {},
            "status": {"capacity": {"cpu": cpu, "memory": memory, "pods": pods},
                       "allocatable": {"cpu": cpu, "memory": memory, "pods": pods},
                       "conditions": [{"type": "Ready",
                                       "status": "True" if ready else "False"}]}}


def deployment(name: str, namespace: str = "prod", replicas: int = 3,
               image: str = "registry.local/web:v1", cpu: str = "100m",
               memory: str = "256Mi") -> Dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{
                                      "name": name, "image": image,
                                      "resources": {"requests": {"cpu": cpu,
                                                                 "memory": memory},
                                                    "limits": {"memory": memory}}}]}}}}

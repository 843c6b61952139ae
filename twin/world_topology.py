"""The world's initial cluster: nodes, node agents (DaemonSets), services with their
Deployments, ConfigMaps and HPAs, and the synthetic scenarios of scale worlds.
"""
from __future__ import annotations

from typing import Any, Dict, List

from twin import controllers as ctl
from twin.clock import iso
from twin.scenario import Scenario, bytes_string, cpu_string


class WorldTopology:
    """Creating the scenario's objects in the store at start."""

    # ------------------------------------------------------------------ topology
    def _create_topology(self) -> None:
        store = self.store
        for ns in ("kube-system", "self-healing", "default", "istio-system"):
            if not store.exists("namespaces", None, ns):
                store.create("namespaces", {"metadata": {"name": ns}})
        pools: Dict[str, List[Dict[str, Any]]] = {}
        for node in self.scenario.nodes:
            store.create("nodes", _node_object(node, self.clock.now()))
            pools.setdefault(node["pool"], []).append(node)
        for pool, members in pools.items():
            settings = self.scenario.pools.get(pool) or {}
            template = members[0]
            store.create("machinedeployments", {
                "metadata": {"name": pool, "namespace": "default", "annotations": {
                    ctl.DELAY_ANNOTATION: str(int(float(settings.get("provision_delay_s",
                                                                      120)))),
                    ctl.CAPACITY_PREFIX + "cpu": cpu_string(template["cpu"]),
                    ctl.CAPACITY_PREFIX + "memory": bytes_string(template["memory"]),
                    ctl.CAPACITY_PREFIX + "maxPods": "110"}},
                "spec": {"clusterName": "prod", "replicas": len(members),
                         "selector": {"matchLabels": {ctl.CAPI_POOL_LABEL: pool}},
                         "template": {"spec": {"clusterName": "prod", "version": "v1.31.0"}}},
                "status": {"replicas": len(members), "readyReplicas": len(members)}})
        for svc in self.scenario.services:
            self._create_service(svc)
        if not self._prebind:  # node agents on every node (scale worlds stay lean)
            for ns, name, image in NODE_AGENTS:
                store.create("daemonsets", _daemonset(ns, name, image))
        if self._prebind:
            self._bind_round_robin()
        for cert in self.scenario.certificates:
            not_after = self._cert_not_after(cert)
            store.create("certificates", {
                "metadata": {"name": cert["name"], "namespace": cert["namespace"]},
                "spec": {"secretName": cert["name"] + "-tls", "dnsNames": [
                    f"{cert['name']}.example.com"],
                    "issuerRef": {"name": cert["issuer"], "kind": "ClusterIssuer"}},
                "status": {"notAfter": iso(not_after),
                           "notBefore": iso(not_after - 90 * 86400),
                           "renewalTime": iso(not_after - 30 * 86400),
                           "conditions": [{"type": "Ready", "status": "True",
                                           "reason": "Ready"}]}})

    def _bind_round_robin(self) -> None:
        """Create every ReplicaSet/pod now and bind pods to nodes in turn (scale worlds)."""
        self.controllers.reconcile_deployments()
        self.controllers.reconcile_replicasets()
        names = [n["name"] for n in self.scenario.nodes]
        pending = sorted(self.store.pods_on_node(""), key=lambda p: p["metadata"]["name"])
        for index, pod in enumerate(pending):
            md = pod["metadata"]
            ctl.bind_pod(self.store, md["namespace"], md["name"], names[index % len(names)])

    def _create_service(self, svc: Dict[str, Any]) -> None:
        store = self.store
        ns, name = svc["namespace"], svc["name"]
        first = [d for d in svc["deploys"] if d["at"] <= -self.scenario.history_s] or \
            svc["deploys"][:1]
        version = first[-1]["version"]
        labels = dict(svc["labels"], app=name)
        resources: Dict[str, Any] = {"requests": {
            "cpu": cpu_string(svc["requests"]["cpu"]),
            "memory": bytes_string(svc["requests"]["memory"])}}
        limits = {k: (cpu_string(v) if k == "cpu" else bytes_string(v))
                  for k, v in svc["limits"].items() if v}
        if limits:
            resources["limits"] = limits
        pod_spec: Dict[str, Any] = {
            "containers": [{"name": name, "image": f"{svc['image']}:{version}",
                            "resources": resources,
                            "ports": [{"containerPort": 8080, "protocol": "TCP"}]}],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
            "serviceAccountName": "default"}
        if svc["priority_class"]:
            pod_spec["priorityClassName"] = svc["priority_class"]
        if svc["priority"]:
            pod_spec["priority"] = svc["priority"]
        if svc["node_selector"]:
            pod_spec["nodeSelector"] = dict(svc["node_selector"])
        annotations = {}
        if svc["depends_on"]:
            annotations["self-healing.io/depends-on"] = ",".join(svc["depends_on"])
        store.create("deployments", {
            "metadata": {"name": name, "namespace": ns, "labels": labels,
                         "annotations": annotations},
            "spec": {"replicas": svc["replicas"], "revisionHistoryLimit": 10,
                     "selector": {"matchLabels": {"app": name}},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {
                         "maxSurge": "25%", "maxUnavailable": "25%"}},
                     "template": {"metadata": {"labels": labels}, "spec": pod_spec}}})
        store.create("services", {
            "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
            "spec": {"selector": {"app": name}, "type": "ClusterIP",
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080,
                                "protocol": "TCP"}]}})
        if svc["db_pool"]:
            store.create("configmaps", {
                "metadata": {"name": svc["db_pool"]["configmap"], "namespace": ns,
                             "labels": {"app": name}},
                "data": {svc["db_pool"]["key"]: str(svc["db_pool"]["max"]),
                         "connectionTimeout": "30000"}})
        if svc["hpa"]:
            hpa = svc["hpa"]
            store.create("horizontalpodautoscalers", {
                "metadata": {"name": name, "namespace": ns},
                "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                            "name": name},
                         "minReplicas": int(hpa.get("min", svc["replicas"])),
                         "maxReplicas": int(hpa.get("max", svc["replicas"] * 3)),
                         "metrics": [{"type": "Resource", "resource": {
                             "name": "cpu", "target": {
                                 "type": "Utilization",
                                 "averageUtilization": int(hpa.get("cpu_target_pct", 70))}}}]}})
        if svc["pdb"]:
            pdb_spec: Dict[str, Any] = {"selector": {"matchLabels": {"app": name}}}
            for key, field in (("min_available", "minAvailable"),
                               ("max_unavailable", "maxUnavailable")):
                if key in svc["pdb"]:
                    pdb_spec[field] = svc["pdb"][key]
            store.create("poddisruptionbudgets", {
                "metadata": {"name": name, "namespace": ns}, "spec": pdb_spec})


NODE_AGENTS = (("kube-system", "kube-proxy", "registry.k8s.io/kube-proxy:v1.31.0"),
               ("monitoring", "node-exporter", "quay.io/prometheus/node-exporter:v1.8.2"))


def _daemonset(namespace: str, name: str, image: str) -> Dict[str, Any]:
    """A node agent DaemonSet (small requests; its pods' working set is their request)."""
    labels = {"app.kubernetes.io/name": name, "app": name}
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                     "updateStrategy": {"type": "RollingUpdate"},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "priorityClassName": "system-node-critical", "priority": 2000001000,
                         "hostNetwork": True, "terminationGracePeriodSeconds": 30,
                         "containers": [{"name": name, "image": image, "resources": {
                             "requests": {"cpu": "10m", "memory": "32Mi"},
                             "limits": {"memory": "64Mi"}}}]}}}}


def synthetic_scenario(nodes: int, pods_per_node: int, history: str = "1m",
                       replicas_per_service: int = 10) -> Scenario:
    """The Scenario behind `World.synthetic`."""
    total = nodes * pods_per_node
    services = []
    for index in range(max(1, total // replicas_per_service)):
        services.append({
            "name": f"svc-{index:05d}", "namespace": f"team-{index % 50:02d}",
            "replicas": replicas_per_service, "requests": {"cpu": "10m", "memory": "64Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
            "traffic": {"rps": 5, "cpu_per_rps": 0.002},
            "versions": {"v1.0.0": {"memory": {"baseline": "200Mi", "jitter": 0.2,
                                               "leak_per_min": "4Mi" if index == 0 else 0}}}})
    raw = {"name": f"synthetic-{nodes}x{pods_per_node}", "seed": 1,
           "timing": {"history": history, "lead": history, "duration": "10m", "step": "15s"},
           "topology": {"nodes": [{"pool": "synthetic-pool", "count": nodes, "cpu": 64,
                                   "memory": "256Gi", "disk": "200Gi"}],
                        "services": services},
           "ground_truth": {"kind": "benign"}}
    return Scenario(raw)


def _node_object(node: Dict[str, Any], now: float) -> Dict[str, Any]:
    stamp = iso(now)
    capacity = {"cpu": cpu_string(node["cpu"]), "memory": bytes_string(node["memory"]),
                "pods": "110", "ephemeral-storage": bytes_string(node["disk"])}
    labels = dict(node["labels"])
    labels.update({"node-pool": node["pool"], ctl.CAPI_POOL_LABEL: node["pool"],
                   "kubernetes.io/hostname": node["name"], "kubernetes.io/os": "linux",
                   "topology.kubernetes.io/zone": node["zone"],
                   "cloud.google.com/gke-nodepool": node["pool"]})
    conditions = [
        {"type": kind, "status": status, "reason": reason, "message": reason,
         "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}
        for kind, status, reason in (
            ("MemoryPressure", "False", "KubeletHasSufficientMemory"),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
            ("PIDPressure", "False", "KubeletHasSufficientPID"),
            ("Ready", "True", "KubeletReady"))]
    return {"metadata": {"name": node["name"], "labels": labels},
            "spec": {"providerID": f"gce://prod/{node['zone']}/{node['name']}"},
            "status": {"capacity": capacity, "allocatable": dict(capacity),
                       "conditions": conditions,
                       "addresses": [{"type": "Hostname", "address": node["name"]}],
                       "nodeInfo": {"kubeletVersion": "v1.31.0", "osImage": "COS",
                                    "containerRuntimeVersion": "containerd://1.7.0",
                                    "architecture": "amd64", "operatingSystem": "linux"}}}

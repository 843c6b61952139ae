"""The twin's world: clock + object store + API server + controllers + physics + Prometheus.

    world = World.from_scenario("seed-0317-memory-leak", seed=0)
    world.start()            # services up, objects created, pre-history written in bulk
    world.kubeconfig_path    # the pack's ServiceAccount token; admin_kubeconfig_path for admins
    world.prometheus_url     # the fault-injecting proxy in front of the real Prometheus
    world.step()             # one virtual step (default 15 s); advance_seconds(s); run_until(t)
    world.stop()

Timeline (virtual): history starts at onset - history; `start()` returns at onset - lead (the
pack starts watching there); a scenario ends at onset + duration (`end_epoch`).
Samples are remote-written at their virtual timestamps; a series that disappears gets a
staleness marker, as a scrape would produce.
"""
from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

from twin import controllers as ctl
from twin.apiserver import ApiServer
from twin.clock import VirtualClock, iso, next_time_of_day, rounded_future_start
from twin.faults import ApiFaults
from twin.kubeconfig import write_kubeconfigs
from twin.model import Physics
from twin.natsd import NatsServer
from twin.prometheus import PrometheusServer
from twin.promproxy import PromProxy
from twin.promwrite import STALE_NAN, RemoteWriter, SeriesKey
from twin.rbac import ADMIN_USER, SA_USER, Authorizer
from twin.scenario import Scenario, bytes_string, cpu_string, load_scenario
from twin.store import Store

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BULK_WINDOW_S = 1800.0


class World:
    """One running twin (see module docstring)."""

    def __init__(self, scenario: Scenario, seed: int = 0, workdir: Optional[str] = None,
                 start_prometheus: bool = True, start_nats: bool = True,
                 not_before: Optional[float] = None, realtime: bool = False,
                 tls: bool = False) -> None:
        self.tls = tls  # serve the API over HTTPS (kubectl sends tokens only over TLS)
        self.scenario = scenario
        self.seed = seed if seed else scenario.seed
        self._own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="twin-")
        self._want_prometheus = start_prometheus
        self._want_nats = start_nats
        lead = scenario.history_s
        floor = not_before or time.time()
        self.realtime = realtime
        if realtime:  # virtual time = wall time: the pack may run on real time against us
            self.onset_epoch = float(math.ceil(floor + scenario.lead_s))
        elif scenario.onset_time_of_day:
            self.onset_epoch = next_time_of_day(scenario.onset_time_of_day, floor, lead)
        else:
            self.onset_epoch = rounded_future_start(floor + lead, 3600.0)
        self.start_epoch = self.onset_epoch - scenario.history_s
        self.end_epoch = self.onset_epoch + scenario.duration_s
        self.clock = VirtualClock(self.start_epoch, scenario.step_s)
        self.store = Store(now_fn=self.clock.now, seed=self.seed)
        self.api_faults = ApiFaults(seed=self.seed)
        self.physics = Physics(scenario, self.store, onset=self.onset_epoch, seed=self.seed)
        self.controllers = ctl.Controllers(
            self.store, now_fn=self.clock.now, seed=self.seed,
            node_provision_delay_s=_pool_delay(scenario), start_pods=False,
            hpa_metric_fn=self._hpa_utilization)
        self.prometheus: Optional[PrometheusServer] = None
        self.proxy: Optional[PromProxy] = None
        self.nats: Optional[NatsServer] = None
        self.apiserver: Optional[ApiServer] = None
        self.authorizer: Optional[Authorizer] = None
        self.writer: Optional[RemoteWriter] = None
        self._events = self._schedule()
        self._api_fault_handles: Dict[int, List[Any]] = {}
        self._last_keys: set = set()
        self._bulk: Optional[Dict[SeriesKey, List[Tuple[int, float]]]] = None
        self._bulk_started = 0.0
        self._key_series: List[Tuple[float, float]] = []
        self._next_step_at = self.start_epoch + scenario.step_s
        self.steps = 0
        self.started = False
        self._prebind = False
        self.event_errors: List[str] = []
        self.kubeconfig_path = os.path.join(self.workdir, "kubeconfig-pack.yaml")
        self.admin_kubeconfig_path = os.path.join(self.workdir, "kubeconfig-admin.yaml")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_scenario(cls, path_or_name: str, seed: int = 0, workdir: Optional[str] = None,
                      **kwargs: Any) -> "World":
        return cls(load_scenario(path_or_name), seed=seed, workdir=workdir, **kwargs)

    @classmethod
    def synthetic(cls, nodes: int = 100, pods_per_node: int = 30, seed: int = 0,
                  workdir: Optional[str] = None, history: str = "1m",
                  replicas_per_service: int = 10, lean: bool = True,
                  **kwargs: Any) -> "World":
        """A large uniform cluster for scale benchmarks: `nodes` x `pods_per_node` pods.

        Pods are bound round-robin at start (the scheduler's per-pod node scan is skipped),
        Istio series are not emitted, `lean` keeps five series per pod (working set, CPU
        usage, restarts, memory limit, kube_pod_info), and the pre-history is short;
        per-step cost is linear in pods. Service `svc-00000` leaks (4 MiB/min) so the
        detectors have something to find.
        """
        world = cls(synthetic_scenario(nodes, pods_per_node, history, replicas_per_service),
                    seed=seed, workdir=workdir, **kwargs)
        world.physics.emit_istio = False
        world.physics.lean = lean
        world._prebind = True
        return world

    # ------------------------------------------------------------------ properties
    @property
    def prometheus_url(self) -> str:
        return self.proxy.url if self.proxy else ""

    @property
    def prometheus_direct_url(self) -> str:
        return self.prometheus.url if self.prometheus else ""

    @property
    def nats_url(self) -> str:
        return self.nats.url if self.nats else ""

    @property
    def api_url(self) -> str:
        return self.apiserver.url if self.apiserver else ""

    @property
    def prom_faults(self):
        return self.proxy.faults if self.proxy else None

    @property
    def ground_truth(self) -> Dict[str, Any]:
        return self.scenario.ground_truth

    @property
    def now(self) -> float:
        return self.clock.now()

    def nats_down(self) -> None:
        if self.nats:
            self.nats.stop()

    def nats_up(self) -> None:
        if self.nats:
            self.nats.start()

    def key_metric_series(self) -> List[Tuple[float, float]]:
        """(virtual epoch, value) of the scenario's key metric after every step."""
        return list(self._key_series)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "World":
        """Start services, create the topology, write the pre-history; returns at onset-lead."""
        if self.started:
            return self
        os.makedirs(self.workdir, exist_ok=True)
        try:
            if self._want_prometheus:
                self.prometheus = PrometheusServer(os.path.join(self.workdir, "prometheus"))
                self.prometheus.start()
                self.proxy = PromProxy(self.prometheus.url, seed=self.seed).start()
                self.writer = RemoteWriter(self.prometheus.url)
            if self._want_nats:
                self.nats = NatsServer().start()
            self._start_api()
            self._create_topology()
            self._bulk = {}
            self._bulk_started = self.clock.now()
            pack_start = self.onset_epoch - self.scenario.lead_s
            self.run_until(pack_start)
            self._flush_bulk()
            self._bulk = None
        except Exception:
            self.stop()
            raise
        self.started = True
        return self

    def _start_api(self) -> None:
        deploy_dir = os.path.join(REPO_ROOT, "deploy")
        if os.path.isdir(deploy_dir):
            self.authorizer = Authorizer.from_deploy_dir(deploy_dir)
        else:
            self.authorizer = Authorizer.from_manifests([])
        sa_token = self.authorizer.add_token(SA_USER)
        admin_token = self.authorizer.add_token(ADMIN_USER, admin=True)
        self.apiserver = ApiServer(self.store, authorizer=self.authorizer,
                                   faults=self.api_faults, tls=self.tls).start()
        paths = write_kubeconfigs(self.workdir, self.apiserver.url, sa_token, admin_token,
                                  ca_pem=self.apiserver.ca_pem)
        self.kubeconfig_path, self.admin_kubeconfig_path = paths["pack"], paths["admin"]

    def stop(self) -> None:
        """Stop every service and remove the work directory (if the world made it)."""
        for closer in (lambda: self.writer and self.writer.close(),
                       lambda: self.proxy and self.proxy.stop(),
                       lambda: self.apiserver and self.apiserver.stop(),
                       lambda: self.nats and self.nats.stop(),
                       lambda: self.prometheus and self.prometheus.stop()):
            try:
                closer()
            except Exception:  # noqa: BLE001 - best effort shutdown
                pass
        self.started = False
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "World":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ time
    def step(self) -> None:
        """Advance exactly one step and simulate it."""
        self.advance_seconds(self._next_step_at - self.clock.now())

    def advance_seconds(self, seconds: float) -> None:
        """Move virtual time forward by `seconds`, simulating every step boundary crossed."""
        target = self.clock.now() + max(0.0, float(seconds))
        while self._next_step_at <= target + 1e-9:
            self.clock.set(max(self.clock.now(), self._next_step_at))
            self._simulate_step()
            self._next_step_at += self.scenario.step_s
        self.clock.set(max(self.clock.now(), target))

    def run_until(self, epoch: float) -> None:
        self.advance_seconds(epoch - self.clock.now())

    def run_to_end(self) -> None:
        self.run_until(self.end_epoch)

    @property
    def finished(self) -> bool:
        return self.clock.now() >= self.end_epoch

    def _simulate_step(self) -> None:
        now = self.clock.now()
        self._fire_events(now)
        self.controllers.step()
        samples = self.physics.step(now, self.scenario.step_s)
        self.steps += 1
        self._write(now, samples)
        self._record_key_metric(now)

    # ------------------------------------------------------------------ writing
    def _write(self, now: float, samples: List[Tuple[SeriesKey, float]]) -> None:
        keys = {key for key, _ in samples}
        gone = self._last_keys - keys
        self._last_keys = keys
        if gone:
            samples = samples + [(key, STALE_NAN) for key in gone]
        if self.writer is None:
            return
        if self._bulk is not None:
            ts_ms = int(round(now * 1000))
            bulk = self._bulk
            for key, value in samples:
                points = bulk.get(key)
                if points is None:
                    bulk[key] = [(ts_ms, value)]
                else:
                    points.append((ts_ms, value))
            if now - self._bulk_started >= BULK_WINDOW_S:
                self._flush_bulk()
                self._bulk_started = now
            return
        self.writer.write_step(now, samples)

    def _flush_bulk(self) -> None:
        if self._bulk and self.writer is not None:
            self.writer.write_series(self._bulk)
        if self._bulk is not None:
            self._bulk = {}

    # ------------------------------------------------------------------ events
    def _schedule(self) -> List[Tuple[float, int, str, Dict[str, Any]]]:
        events: List[Tuple[float, int, str, Dict[str, Any]]] = []
        first_rel = -self.scenario.history_s
        for svc in self.scenario.services:
            for deploy in svc["deploys"]:
                if deploy["at"] > first_rel:
                    events.append((deploy["at"], len(events), "deploy",
                                   {"service": svc["name"], "version": deploy["version"]}))
        for fault in self.scenario.faults:
            if fault["type"] in ("deploy", "drain", "scale", "label"):
                events.append((fault["at"], len(events), fault["type"], fault))
        for index, fault in enumerate(self.scenario.infra_faults):
            events.append((fault["at"], len(events), "infra_on", dict(fault, index=index)))
            if fault["until"] is not None:
                events.append((fault["until"], len(events), "infra_off",
                               dict(fault, index=index)))
        events.sort(key=lambda e: (e[0], e[1]))
        return events

    def _fire_events(self, now: float) -> None:
        rel = now - self.onset_epoch
        while self._events and self._events[0][0] <= rel:
            _, _, kind, spec = self._events.pop(0)
            try:
                getattr(self, "_event_" + kind)(spec)
            except Exception as exc:  # noqa: BLE001 - a scenario event must not kill the twin
                self.event_errors.append(f"{iso(now)} {kind}: {exc}")

    def _event_deploy(self, spec: Dict[str, Any]) -> None:
        svc = self.scenario.service(spec["service"])
        image = f"{svc['image']}:{spec['version']}"

        def fn(dep: Dict[str, Any]) -> None:
            dep["spec"]["template"]["spec"]["containers"][0]["image"] = image
        self.store.mutate("deployments", svc["namespace"], svc["name"], fn)

    def _event_scale(self, spec: Dict[str, Any]) -> None:
        svc = self.scenario.service(spec["service"])
        self.store.mutate("deployments", svc["namespace"], svc["name"],
                          lambda dep: dep["spec"].__setitem__("replicas", int(spec["replicas"])))

    def _event_label(self, spec: Dict[str, Any]) -> None:
        """A person labels a node (e.g. opens it to a workload class); null removes a label."""
        def fn(obj: Dict[str, Any]) -> None:
            labels = obj.setdefault("metadata", {}).setdefault("labels", {})
            for key, value in (spec.get("labels") or {}).items():
                if value is None:
                    labels.pop(key, None)
                else:
                    labels[key] = str(value)
        self.store.mutate("nodes", None, spec["node"], fn)

    def _event_drain(self, spec: Dict[str, Any]) -> None:
        """A human's planned drain: cordon, then evict every pod (PDB-respecting)."""
        node = spec["node"]
        self.store.mutate("nodes", None, node,
                          lambda obj: obj.setdefault("spec", {}).__setitem__(
                              "unschedulable", True))
        for pod in list(self.store.pods_on_node(node)):
            md = pod["metadata"]
            try:
                ctl.evict(self.store, md["namespace"], md["name"])
            except Exception:  # noqa: BLE001 - PDB said no; a human would retry
                continue

    def _event_infra_on(self, spec: Dict[str, Any]) -> None:
        target, params = spec["target"], dict(spec["params"])
        if target == "api":
            self._api_fault_handles[spec["index"]] = self.api_faults.load([params])
        elif target == "prometheus" and self.proxy:
            kind = params.pop("kind", "down")
            self.proxy.faults.inject(kind, **params)
        elif target == "nats":
            self.nats_down()

    def _event_infra_off(self, spec: Dict[str, Any]) -> None:
        target = spec["target"]
        if target == "api":
            for fault in self._api_fault_handles.pop(spec["index"], []):
                self.api_faults.remove(fault)
        elif target == "prometheus" and self.proxy:
            self.proxy.faults.clear(spec["params"].get("kind", "down"))
        elif target == "nats":
            self.nats_up()

    # ------------------------------------------------------------------ metrics views
    def _hpa_utilization(self, hpa: Dict[str, Any]) -> Optional[float]:
        target = ((hpa.get("spec") or {}).get("scaleTargetRef") or {}).get("name")
        svc = self.scenario.service(target)
        pods = [st for st in self.physics.pods.values() if st.service == target and
                st.state == "running" and st.ready]
        if not svc or not pods:
            return None
        usage = sum(st.cpu_usage for st in pods) / len(pods)
        return 100.0 * usage / max(1e-6, svc["requests"]["cpu"])

    def key_metric_value(self) -> float:
        """The current value of the scenario's key metric (see scenarios/README.md)."""
        spec = self.scenario.ground_truth.get("key_metric") or _default_key_metric(
            self.scenario)
        if not spec:
            return float("nan")
        kind, target = spec.get("type"), spec.get("target", "")
        view = (self.physics.snapshot.get("services") or {}).get(target) or {}
        nodes = getattr(self.physics, "snapshot_nodes", {})
        pods = [st for st in self.physics.pods.values() if st.service == target]
        if kind == "node_memory_pct":
            return nodes.get(target, {}).get("mem_pct", float("nan"))
        if kind == "disk_avail_pct":
            return nodes.get(target, {}).get("disk_avail_pct", float("nan"))
        if kind == "p99_ms":
            return view.get("p99", float("nan"))
        if kind == "error_ratio":
            return view.get("error_ratio", float("nan"))
        if kind == "pool_utilization":
            return view.get("pool_util", float("nan"))
        if kind == "throttle_ratio":
            return view.get("throttle", float("nan"))
        if kind == "ready_replicas":
            return float(view.get("ready", 0))
        if kind == "restarts":
            return float(sum(st.restarts for st in pods))
        if kind == "container_memory":
            running = [st.mem for st in pods if st.state == "running"]
            return max(running) if running else 0.0
        if kind == "cert_days_left":
            for cert in self.scenario.certificates:
                if cert["name"] == target:
                    return (self._cert_not_after(cert) - self.clock.now()) / 86400.0
        if kind == "ready_nodes":
            return float(sum(1 for v in nodes.values() if v.get("ready")))
        return float("nan")

    def _record_key_metric(self, now: float) -> None:
        value = self.key_metric_value()
        if not math.isnan(value):
            self._key_series.append((now, value))

    def _cert_not_after(self, cert: Dict[str, Any]) -> float:
        return self.onset_epoch + cert["expires_in"]

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


def _pool_delay(scenario: Scenario) -> float:
    delays = [float(p.get("provision_delay_s", 120)) for p in scenario.pools.values()]
    return delays[0] if delays else 120.0


def _default_key_metric(scenario: Scenario) -> Optional[Dict[str, Any]]:
    cause = scenario.ground_truth.get("root_cause")
    if not cause:
        return None
    target = cause["target"]
    name = target["name"]
    if target["kind"] == "Pod" and scenario.service(name) is None:
        name = target.get("service") or name.rsplit("-", 2)[0]
    kind = {"memory_pressure": "node_memory_pct", "memory_leak": "container_memory",
            "cpu_throttling": "throttle_ratio", "crash_loop": "restarts",
            "latency_anomaly": "p99_ms", "error_rate": "error_ratio",
            "disk_pressure": "disk_avail_pct", "connection_pool": "pool_utilization",
            "certificate_expiry": "cert_days_left",
            "node_not_ready": "ready_nodes"}[cause["detector"]]
    return {"type": kind, "target": name}

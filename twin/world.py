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
staleness marker, as a scrape would produ
Split: `twin.world_topology` builds the initial cluster, `twin.world_events` fires the
scenario's events and derives metric views; this module runs the clock, the components and the
step loop.
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
from twin.clock import VirtualClock, next_time_of_day, rounded_future_start
from twin.faults import ApiFaults
from twin.kubeconfig import write_kubeconfigs
from twin.model import Physics
from twin.natsd import NatsServer
from twin.prometheus import PrometheusServer
from twin.promproxy import PromProxy
from twin.promwrite import STALE_NAN, RemoteWriter, SeriesKey
from twin.rbac import ADMIN_USER, SA_USER, Authorizer
from twin.scenario import Scenario, load_scenario
from twin.store import Store
from twin.world_events import WorldEvents
from twin.world_topology import WorldTopology, synthetic_scenario

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BULK_WINDOW_S = 1800.0


class _UrlOf:
    """A read-only attribute: the url one of the world's servers serves ("" when not up)."""

    def __init__(self, part: str) -> None:
        self.part = part

    def __get__(self, world: Any, owner: Any = None) -> Any:
        if world is None:
            return self
        server = getattr(world, self.part)
        return server.url if server else ""


class World(WorldTopology, WorldEvents):
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
    prometheus_url = _UrlOf("proxy")
    prometheus_direct_url = _UrlOf("prometheus")
    nats_url = _UrlOf("nats")
    api_url = _UrlOf("apiserver")

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


def _pool_delay(scenario: Scenario) -> float:
    delays = [float(p.get("provision_delay_s", 120)) for p in scenario.pools.values()]
    return delays[0] if delays else 120.0

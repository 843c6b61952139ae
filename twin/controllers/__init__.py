"""Kubernetes-semantics controllers the world runs once per step, plus eviction and binding.

    ctl = Controllers(store, now_fn=clock.now, seed=1, node_provision_delay_s=120)
    ctl.step()     # deployments -> replicasets -> scheduler -> pod start -> PDBs -> node pools
                   # -> HPAs -> event GC; each is also callable on its own.
    evict(store, namespace, pod)      # policy/v1 Eviction semantics: TooManyRequests (429)
    bind_pod(store, namespace, pod, node)

- Deployments: the new ReplicaSet is the one whose template equals the Deployment's (ignoring
  `pod-template-hash`), else `<deploy>-<hash>` is created; its `deployment.kubernetes.io/revision`
  becomes max+1 (an old ReplicaSet brought back by "rollout undo" is reused and renumbered,
  keeping `deployment.kubernetes.io/revision-history`). RollingUpdate honours maxSurge /
  maxUnavailable against available (Ready) pods; Recreate scales old to 0 first. Old
  ReplicaSets beyond revisionHistoryLimit are deleted. Status and conditions are kept.
- ReplicaSets: create/delete pods to match spec.replicas (pods named `<rs>-<5 chars>`).
- Scheduler: Pending unbound pods go to Ready, schedulable (not cordoned) nodes whose taints
  they tolerate, whose labels match nodeSelector, with room (requests vs allocatable, pod count);
  least-allocated memory first. Unschedulable pods stay Pending with PodScheduled=False
  (Unschedulable) and a FailedScheduling event worded like kube-scheduler's FitError (again
  when the reasons change); they are bound as soon as room appears.
- Pod start (`start_pods=True`, a minimal kubelet): bound Pending pods become Running and Ready.
  The world's kubelet model can turn this off and do it itself.
- PDBs: status (expectedPods, currentHealthy, desiredHealthy, disruptionsAllowed) from pods.
- Node pools: Cluster API MachineDeployment spec.replicas -> nodes labelled
  `node-pool=<name>` (and `cluster.x-k8s.io/deployment-name`), Ready after
  `node_provision_delay_s` virtual seconds (annotation `twin.self-healing.io/provision-delay-s`
  overrides); capacity copied from a pool node or from the `capacity.cluster-autoscaler.
  kubernetes.io/{cpu,memory,maxPods}` annotations. Scale-down removes cordoned/NotReady/newest.
- HPAs: static unless `hpa_metric_fn(hpa) -> current utilization %` is given.
- Node lifecycle (opt-in, `node_lifecycle=True`): cordon/not-ready/unreachable taints and
  taint-based eviction after tolerationSeconds (300 s default, as admission adds).

The package, one module per controller family: `objects` (fields every controller shares),
`workloads` (Deployments, ReplicaSets), `scheduling`, `disruption` (PDBs, eviction),
`kubelet` (pod start, graceful deletion, mirror pods), `daemonsets`, `jobs`, `nodes` (pools,
lifecycle), `autoscaling` (HPAs, Event GC). `Controllers` composes them and keeps the
change tracking they share.
"""
from typing import Any, Callable, Dict, List, Optional, Tuple

from twin.controllers.autoscaling import AutoscalingControllers
from twin.controllers.daemonsets import DAEMON_TOLERATIONS, DaemonSetController
from twin.controllers.disruption import DisruptionController, evict
from twin.controllers.jobs import JOB_RUN_S, RUN_ANNOTATION, JobController
from twin.controllers.kubelet import (
    CONTROL_PLANE_LABEL,
    DEFAULT_SHUTDOWN_S,
    MIRROR_ANNOTATION,
    SHUTDOWN_ANNOTATION,
    STATIC_PODS,
    KubeletControllers,
)
from twin.controllers.nodes import (
    CAPACITY_PREFIX,
    CAPI_POOL_LABEL,
    DEFAULT_TOLERATION_S,
    DELAY_ANNOTATION,
    POOL_LABEL,
    NodeControllers,
)
from twin.controllers.objects import (
    _cond,
    controller_ref,
    node_ready,
    pod_ready,
    pod_requests,
    pod_terminal,
    record_event,
)
from twin.controllers.scheduling import Scheduler, bind_pod
from twin.controllers.workloads import (
    HASH_LABEL,
    REVISION,
    REVISION_HISTORY,
    WorkloadControllers,
    template_hash,
    templates_equal,
)
from twin.quantities import parse_quantity
from twin.selectors import selector_string
from twin.store import Store

__all__ = [
    "CAPACITY_PREFIX", "CAPI_POOL_LABEL", "CONTROL_PLANE_LABEL", "Controllers",
    "DAEMON_TOLERATIONS", "DEFAULT_SHUTDOWN_S", "DEFAULT_TOLERATION_S", "DELAY_ANNOTATION",
    "FULL_RESYNC_STEPS", "HASH_LABEL", "JOB_RUN_S", "MIRROR_ANNOTATION", "POOL_LABEL",
    "REVISION", "REVISION_HISTORY", "RUN_ANNOTATION", "SHUTDOWN_ANNOTATION", "STATIC_PODS",
    "_cond", "bind_pod", "controller_ref", "evict", "node_ready", "parse_quantity",
    "pod_ready", "pod_requests", "pod_terminal", "record_event", "selector_string",
    "template_hash", "templates_equal",
]


FULL_RESYNC_STEPS = 240  # a full pass every N steps (1 h at 15 s), change-driven between


class Controllers(WorkloadControllers, Scheduler, KubeletControllers, DaemonSetController,
                  JobController, DisruptionController, NodeControllers,
                  AutoscalingControllers):
    """All controllers; `step()` runs one reconcile pass of each."""

    def __init__(self, store: Store, now_fn: Optional[Callable[[], float]] = None,
                 seed: int = 0, node_provision_delay_s: float = 120.0, start_pods: bool = True,
                 emit_events: bool = True, event_ttl_s: float = 3600.0,
                 hpa_metric_fn: Optional[Callable[[Dict[str, Any]], Optional[float]]] = None,
                 node_lifecycle: bool = False) -> None:
        self.node_lifecycle_enabled = node_lifecycle
        self.store = store
        self.now_fn = now_fn or store.now_fn
        self.seed = seed
        self.node_provision_delay_s = node_provision_delay_s
        self.start_pods_enabled = start_pods
        self.emit_events = emit_events
        self.event_ttl_s = event_ttl_s
        self.hpa_metric_fn = hpa_metric_fn
        self.provisioning: Dict[Tuple[str, str], List[float]] = {}
        self._steps = 0
        self._marks: Dict[str, int] = {}
        self.full_resync_steps = FULL_RESYNC_STEPS

    # ----------------------------------------------------------------- change tracking
    def _changes(self, name: str) -> Optional[List[Tuple[str, Dict[str, Any], Any]]]:
        """Writes since this controller's last pass, or None for a full pass."""
        last = self._marks.get(name)
        self._marks[name] = int(self.store.resource_version)
        if last is None or (self.full_resync_steps and
                            self._steps % self.full_resync_steps == 0):
            return None
        return self.store.changes_since(last)

    def _dirty_owned(self, name: str, resource: str, child: str) -> Optional[
            List[Dict[str, Any]]]:
        """Objects of `resource` that changed or whose `child` objects changed (None = all)."""
        changes = self._changes(name)
        if changes is None:
            return None
        uids = set()
        for res, obj, old in changes:
            if res == resource:
                uids.add(obj["metadata"]["uid"])
            elif res == child:
                for o in (obj, old):
                    ref = controller_ref(o) if o is not None else None
                    if ref is not None:
                        uids.add(ref["uid"])
        out = []
        for uid in sorted(uids):
            hit = self.store.by_uid(uid)
            if hit is not None and hit[0] == resource:
                out.append(hit[1])
        return out

    def _targets(self, name: str, resource: str, child: str) -> List[Dict[str, Any]]:
        dirty = self._dirty_owned(name, resource, child)
        if dirty is None:
            return self.store.list(resource, copy=False)[0]
        return dirty

    def _event(self, obj: Dict[str, Any], reason: str, message: str,
               etype: str = "Normal", component: str = "twin-controller-manager") -> None:
        if self.emit_events:
            record_event(self.store, obj, reason, message, etype, component, self.now_fn())

    def _create_owned_pod(self, owner: Dict[str, Any], pod: Dict[str, Any],
                          component: str) -> Dict[str, Any]:
        """Create a pod a controller owns and record its SuccessfulCreate Event."""
        created = self.store.create("pods", pod, copy_result=False)
        self._event(owner, "SuccessfulCreate", "Created pod: %s" % created["metadata"]["name"],
                    component=component)
        return created

    def step(self) -> None:
        """One pass of every controller, in dependency order."""
        self.finish_terminating()
        self.reconcile_deployments()
        self.reconcile_replicasets()
        self.reconcile_node_pools()
        self.reconcile_mirror_pods()
        self.reconcile_daemonsets()
        self.reconcile_jobs()
        if self.node_lifecycle_enabled:
            self.reconcile_node_lifecycle()
        self.schedule()
        if self.start_pods_enabled:
            self.start_pods()
        self.reconcile_replicaset_status()
        self.reconcile_deployment_status()
        self.reconcile_pdbs()
        self.reconcile_hpas()
        self._steps += 1
        if self._steps % 20 == 0:
            self.gc_events()

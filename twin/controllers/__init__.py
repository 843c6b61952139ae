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
"""
import hashlib
import math
import time
import zlib
from typing import Any, Callable, Dict, List, Optional, Tuple

from twin import selectors
from twin.store import (ApiError, Conflict, InternalError, NotFound, Store, TooManyRequests,
                        copy_obj, iso)

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
HASH_LABEL = "pod-template-hash"
POOL_LABEL = "node-pool"
CAPI_POOL_LABEL = "cluster.x-k8s.io/deployment-name"
DELAY_ANNOTATION = "twin.self-healing.io/provision-delay-s"
CAPACITY_PREFIX = "capacity.cluster-autoscaler.kubernetes.io/"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"
FULL_RESYNC_STEPS = 240  # a full pass every N steps (1 h at 15 s), change-driven between


# --------------------------------------------------------------------------- quantities
def parse_quantity(value: Any) -> float:
    """Kubernetes quantity ("500m", "2Gi", "1.5", 3) -> float in base units."""
    if value is None or value == "":
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    s = str(value).strip()
    suffixes = [("Ki", 2 ** 10), ("Mi", 2 ** 20), ("Gi", 2 ** 30), ("Ti", 2 ** 40),
                ("Pi", 2 ** 50), ("Ei", 2 ** 60), ("n", 1e-9), ("u", 1e-6), ("m", 1e-3),
                ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15), ("E", 1e18)]
    for suffix, mult in suffixes:
        if s.endswith(suffix):
            return float(s[:-len(suffix)]) * mult
    return float(s)


def pod_requests(pod: Dict[str, Any]) -> Tuple[float, float]:
    """(cpu cores, memory bytes) requested by a pod's containers."""
    cpu = mem = 0.0
    for c in (pod.get("spec") or {}).get("containers") or []:
        req = (c.get("resources") or {}).get("requests") or {}
        cpu += parse_quantity(req.get("cpu"))
        mem += parse_quantity(req.get("memory"))
    return cpu, mem


def _cond(obj: Dict[str, Any], ctype: str) -> Optional[Dict[str, Any]]:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def pod_ready(pod: Dict[str, Any]) -> bool:
    c = _cond(pod, "Ready")
    return bool(c and c.get("status") == "True") and not pod["metadata"].get(
        "deletionTimestamp")


def pod_terminal(pod: Dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def node_ready(node: Dict[str, Any]) -> bool:
    c = _cond(node, "Ready")
    return bool(c and c.get("status") == "True")


def controller_ref(obj: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def _set_condition(conds: List[Dict[str, Any]], ctype: str, status: str, reason: str,
                   message: str, now: str) -> List[Dict[str, Any]]:
    out = [c for c in conds if c.get("type") != ctype]
    old = next((c for c in conds if c.get("type") == ctype), None)
    if old is not None and old.get("status") == status and old.get("reason") == reason:
        out.append(old)
        return sorted(out, key=lambda c: c["type"])
    new = {"type": ctype, "status": status, "reason": reason, "message": message,
           "lastTransitionTime": now}
    if old is not None and old.get("status") == status:
        new["lastTransitionTime"] = old.get("lastTransitionTime", now)
    out.append(new)
    return sorted(out, key=lambda c: c["type"])


def selector_string(sel: Optional[Dict[str, Any]]) -> str:
    """LabelSelector object -> selector string."""
    if not sel:
        return ""
    parts = ["%s=%s" % kv for kv in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        op, key, vals = e["operator"], e["key"], ",".join(e.get("values") or [])
        parts.append({"In": "%s in (%s)" % (key, vals), "NotIn": "%s notin (%s)" % (key, vals),
                      "Exists": key, "DoesNotExist": "!" + key}[op])
    return ",".join(parts)


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


def _scaled(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        pct = float(value[:-1]) / 100.0 * total
        return int(math.ceil(pct)) if round_up else int(math.floor(pct))
    return int(value)


# --------------------------------------------------------------------------- events
def record_event(store: Store, obj: Dict[str, Any], reason: str, message: str,
                 etype: str = "Normal", component: str = "twin-controller-manager",
                 now: Optional[float] = None) -> None:
    """Create a core/v1 Event about `obj` (in its namespace, "default" for cluster objects)."""
    md = obj["metadata"]
    ts = iso(now if now is not None else store.now_fn())
    ns = md.get("namespace") or "default"
    store.create("events", {
        "metadata": {"name": "%s.%s" % (md["name"], store.random_suffix(10)), "namespace": ns},
        "involvedObject": {"kind": obj.get("kind"), "namespace": md.get("namespace", ""),
                           "name": md["name"], "uid": md.get("uid"),
                           "apiVersion": obj.get("apiVersion"),
                           "resourceVersion": md.get("resourceVersion")},
        "reason": reason, "message": message, "type": etype, "count": 1,
        "firstTimestamp": ts, "lastTimestamp": ts, "source": {"component": component},
        "reportingComponent": component, "reportingInstance": component})


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
            raise TooManyRequests(
                "Cannot evict pod as it would violate the pod's disruption budget.",
                {"causes": [{"reason": "DisruptionBudget",
                             "message": "The disruption budget %s needs %d healthy pods and "
                                        "has %d currently" % (pdb["metadata"]["name"],
                                                              status["desiredHealthy"],
                                                              status["currentHealthy"])}]})
    elif pdbs and not ignore_pdb:
        pdb = pdbs[0]
        status = _pdb_status(store, pdb)
        if status["disruptionsAllowed"] <= 0:
            raise TooManyRequests(
                "Cannot evict pod as it would violate the pod's disruption budget.",
                {"causes": [{"reason": "DisruptionBudget",
                             "message": "The disruption budget %s needs %d healthy pods and "
                                        "has %d currently" % (pdb["metadata"]["name"],
                                                              status["desiredHealthy"],
                                                              status["currentHealthy"])}]})
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


def bind_pod(store: Store, namespace: str, name: str, node: str) -> Dict[str, Any]:
    """Bind a pod to a node (pods/binding); Conflict if already bound. Returns the stored
    pod (read-only)."""
    now = iso(store.now_fn())

    def fn(pod: Dict[str, Any]) -> None:
        if (pod.get("spec") or {}).get("nodeName"):
            raise Conflict('Operation cannot be fulfilled on pods/binding "%s": pod %s is '
                           "already assigned to node \"%s\"" % (name, name,
                                                                pod["spec"]["nodeName"]))
        pod.setdefault("spec", {})["nodeName"] = node
        st = pod.setdefault("status", {})
        st["conditions"] = _set_condition(st.get("conditions") or [], "PodScheduled", "True",
                                          "", "", now)
        for c in st["conditions"]:
            if c.get("reason") == "":
                c.pop("reason", None)
                c.pop("message", None)
    return store.mutate("pods", namespace, name, fn, copy_result=False)


def _tolerates(pod: Dict[str, Any], taint: Dict[str, Any]) -> bool:
    for t in (pod.get("spec") or {}).get("tolerations") or []:
        if t.get("effect") and t["effect"] != taint.get("effect"):
            continue
        if t.get("operator") == "Exists":
            if not t.get("key") or t["key"] == taint.get("key"):
                return True
        elif t.get("key") == taint.get("key") and t.get("value", "") == taint.get("value", ""):
            return True
    return False


def _filter_node(pod: Dict[str, Any], room: "_NodeRoom", cpu: float, mem: float) -> List[str]:
    """Why a node cannot take the pod, as kube-scheduler's filter plugins word it, in their
    order (NodeUnschedulable, TaintToleration, NodeAffinity, NodeResourcesFit); [] = fits."""
    node = room.node
    spec = node.get("spec") or {}
    if spec.get("unschedulable") and not _tolerates(pod, {
            "key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}):
        return ["node(s) were unschedulable"]
    taints = list(spec.get("taints") or [])
    if not node_ready(node):  # TaintNodesByCondition: not-ready/unreachable also NoSchedule
        ready = _cond(node, "Ready")
        key = "node.kubernetes.io/not-ready" if ready and ready.get("status") == "False" \
            else "node.kubernetes.io/unreachable"
        taints.append({"key": key, "effect": "NoSchedule"})
    for t in taints:
        if t.get("effect") in ("NoSchedule", "NoExecute") and not _tolerates(pod, t):
            return ["node(s) had untolerated taint {%s: %s}" % (t.get("key", ""),
                                                                 t.get("value", ""))]
    labels = node["metadata"].get("labels") or {}
    node_sel = (pod.get("spec") or {}).get("nodeSelector") or {}
    if any(labels.get(k) != v for k, v in node_sel.items()):
        return ["node(s) didn't match Pod's node affinity/selector"]
    out = []
    if room.pods_used + 1 > room.pods:
        out.append("Too many pods")
    if room.cpu_used + cpu > room.cpu + 1e-9:
        out.append("Insufficient cpu")
    if room.mem_used + mem > room.mem + 1:
        out.append("Insufficient memory")
    return out


def _fit_error(total: int, reasons: Dict[str, int], resource_misses: int) -> str:
    """kube-scheduler's FitError text, e.g. "0/3 nodes are available: 1 Insufficient memory,
    2 node(s) were unschedulable. preemption: 0/3 nodes are available: 1 No preemption victims
    found for incoming pod, 2 Preemption is not helpful for scheduling."."""
    if not total:
        return "no nodes available to schedule pods"
    parts = ", ".join("%d %s" % (n, r) for r, n in sorted(reasons.items()))
    pre = []
    if resource_misses:
        pre.append("%d No preemption victims found for incoming pod" % resource_misses)
    if total - resource_misses:
        pre.append("%d Preemption is not helpful for scheduling" % (total - resource_misses))
    return "0/%d nodes are available: %s. preemption: 0/%d nodes are available: %s." % (
        total, parts, total, ", ".join(pre))


# --------------------------------------------------------------------------- controllers
class _NodeRoom:
    __slots__ = ("name", "node", "cpu", "mem", "pods", "cpu_used", "mem_used", "pods_used")

    def __init__(self, node: Dict[str, Any], pods: List[Dict[str, Any]]) -> None:
        alloc = (node.get("status") or {}).get("allocatable") or (
            node.get("status") or {}).get("capacity") or {}
        self.name = node["metadata"]["name"]
        self.node = node
        self.cpu = parse_quantity(alloc.get("cpu", "0"))
        self.mem = parse_quantity(alloc.get("memory", "0"))
        self.pods = int(parse_quantity(alloc.get("pods", "110")))
        self.cpu_used = self.mem_used = 0.0
        self.pods_used = 0
        for p in pods:
            if not pod_terminal(p):
                c, m = pod_requests(p)
                self.cpu_used += c
                self.mem_used += m
                self.pods_used += 1

    def fits(self, cpu: float, mem: float) -> bool:
        return (self.pods_used + 1 <= self.pods and self.cpu_used + cpu <= self.cpu + 1e-9
                and self.mem_used + mem <= self.mem + 1)

    def score(self) -> float:
        return (self.mem_used / self.mem if self.mem else 1.0) + (
            self.cpu_used / self.cpu if self.cpu else 1.0)


class Controllers:
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
        template = copy_obj((rs.get("spec") or {}).get("template") or {})
        tmd = template.get("metadata") or {}
        spec = template.get("spec") or {}
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("schedulerName", "default-scheduler")
        spec.setdefault("terminationGracePeriodSeconds", 30)
        spec.setdefault("priority", 0)
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {
            "generateName": md["name"] + "-", "namespace": md["namespace"],
            "labels": tmd.get("labels") or {}, "annotations": tmd.get("annotations") or {},
            "ownerReferences": [{"apiVersion": rs.get("apiVersion", "apps/v1"),
                                 "kind": rs.get("kind", "ReplicaSet"),
                                 "name": md["name"], "uid": md["uid"], "controller": True,
                                 "blockOwnerDeletion": True}]},
            "spec": spec, "status": {"phase": "Pending", "qosClass": _qos(spec)}}
        if not pod["metadata"]["annotations"]:
            del pod["metadata"]["annotations"]
        created = self.store.create("pods", pod, copy_result=False)
        if self.emit_events:
            self._event(rs, "SuccessfulCreate", "Created pod: %s"
                        % created["metadata"]["name"], component="replicaset-controller")
        return created

    # ----------------------------------------------------------------- scheduler
    def schedule(self) -> int:
        """Bind pending pods; returns how many were bound."""
        store = self.store
        pending = [p for p in store.pods_on_node("")
                   if (p.get("status") or {}).get("phase", "Pending") == "Pending"
                   and not p["metadata"].get("deletionTimestamp")
                   and (p.get("spec") or {}).get("schedulerName",
                                                 "default-scheduler") == "default-scheduler"]
        if not pending:
            return 0
        pending.sort(key=lambda p: (-int((p.get("spec") or {}).get("priority") or 0),
                                    p["metadata"].get("creationTimestamp", ""),
                                    p["metadata"]["name"]))
        nodes = store.list("nodes", copy=False)[0]
        rooms = [_NodeRoom(n, store.pods_on_node(n["metadata"]["name"])) for n in nodes]
        bound = 0
        for pod in pending:
            cpu, mem = pod_requests(pod)
            best: Optional[_NodeRoom] = None
            reasons: Dict[str, int] = {}
            resource_misses = 0
            for room in rooms:
                why = _filter_node(pod, room, cpu, mem)
                if why:
                    for r in why:
                        reasons[r] = reasons.get(r, 0) + 1
                    if why[0].startswith(("Insufficient", "Too many")):
                        resource_misses += 1
                    continue
                if best is None or (room.score(), room.name) < (best.score(), best.name):
                    best = room
            pmd = pod["metadata"]
            if best is None:
                self._unschedulable(pod, _fit_error(len(rooms), reasons, resource_misses))
                continue
            try:
                bind_pod(store, pmd["namespace"], pmd["name"], best.name)
            except (NotFound, Conflict):
                continue
            best.cpu_used += cpu
            best.mem_used += mem
            best.pods_used += 1
            bound += 1
            if self.emit_events:
                self._event(pod, "Scheduled", "Successfully assigned %s/%s to %s"
                            % (pmd["namespace"], pmd["name"], best.name),
                            component="default-scheduler")
        return bound

    def _unschedulable(self, pod: Dict[str, Any], msg: str) -> None:
        """PodScheduled=False/Unschedulable and a FailedScheduling event (again whenever the
        reason changes, as the scheduler's retries report it)."""
        c = _cond(pod, "PodScheduled")
        if c is not None and c.get("reason") == "Unschedulable" and c.get("message") == msg:
            return
        now = iso(self.now_fn())

        def fn(obj: Dict[str, Any]) -> None:
            st = obj.setdefault("status", {})
            st["phase"] = "Pending"
            conds = [x for x in st.get("conditions") or [] if x.get("type") != "PodScheduled"]
            conds.append({"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                          "message": msg, "lastProbeTime": None, "lastTransitionTime": now})
            st["conditions"] = conds
        md = pod["metadata"]
        try:
            self.store.mutate("pods", md["namespace"], md["name"], fn)
        except NotFound:
            return
        self._event(pod, "FailedScheduling", msg, "Warning", "default-scheduler")

    # ----------------------------------------------------------------- minimal kubelet
    def start_pods(self) -> int:
        """Bound Pending pods without container statuses become Running and Ready."""
        started = 0
        now = iso(self.now_fn())
        ready: Dict[str, bool] = {}
        pending = sorted(self.store.pods_in_phase("Pending"), key=lambda p: (
            p["metadata"]["namespace"], p["metadata"]["name"]))
        for pod in pending:
            st = pod.get("status") or {}
            name = (pod.get("spec") or {}).get("nodeName")
            if not name or st.get("containerStatuses"):
                continue
            if name not in ready:
                try:
                    ready[name] = node_ready(self.store.get_entry("nodes", None, name).obj)
                except NotFound:
                    ready[name] = False
            if not ready[name]:
                continue
            md = pod["metadata"]
            try:
                self.store.mutate("pods", md["namespace"], md["name"],
                                  _start_fn(now, name, self.store.random_suffix(3)),
                                  copy_result=False)
                started += 1
            except NotFound:
                continue
        return started

    # ----------------------------------------------------------------- graceful deletion
    def finish_terminating(self) -> int:
        """The kubelet's side of graceful deletion: a Terminating pod on a Ready node is
        deleted (grace 0) once its containers have stopped, min(deletionGracePeriodSeconds,
        the `twin.self-healing.io/shutdown-s` annotation, default DEFAULT_SHUTDOWN_S) after the
        delete; on a node that is not Ready it stays Terminating (nobody confirms); on a node
        that no longer exists it is removed (pod GC). Returns how many pods went."""
        now = self.now_fn()
        nodes: Dict[str, Optional[bool]] = {}
        done = 0
        for pod in list(self.store.terminating("pods")):
            md, spec = pod["metadata"], pod.get("spec") or {}
            grace = md.get("deletionGracePeriodSeconds", 0)
            if not grace:
                continue  # already confirmed: waiting for finalizers
            name = spec.get("nodeName", "")
            if name not in nodes:
                try:
                    nodes[name] = node_ready(self.store.get_entry("nodes", None, name).obj)
                except NotFound:
                    nodes[name] = None
            if nodes[name] is False:
                continue
            if nodes[name]:
                try:
                    shutdown = float((md.get("annotations") or {}).get(
                        SHUTDOWN_ANNOTATION, DEFAULT_SHUTDOWN_S))
                except ValueError:
                    shutdown = DEFAULT_SHUTDOWN_S
                started = _epoch_of(md["deletionTimestamp"]) - grace
                if now < started + min(float(grace), max(shutdown, 0.0)):
                    continue
            try:
                self.store.delete("pods", md["namespace"], md["name"], grace_period=0)
                done += 1
            except NotFound:
                continue
        return done

    # ----------------------------------------------------------------- static pods
    def reconcile_mirror_pods(self) -> int:
        """The kubelet's mirror pods for the static control-plane manifests on nodes labelled
        node-role.kubernetes.io/control-plane (kube-system/<component>-<node>, annotation
        kubernetes.io/config.mirror, owned by the Node); a deleted one comes back. Returns
        how many were created."""
        created = 0
        for node in self.store.list("nodes", label_selector=CONTROL_PLANE_LABEL,
                                    copy=False)[0]:
            nmd = node["metadata"]
            for component, cpu, memory in STATIC_PODS:
                name = "%s-%s" % (component, nmd["name"])
                if self.store.exists("pods", "kube-system", name):
                    continue
                digest = hashlib.sha1(name.encode()).hexdigest()[:32]
                self.store.create("pods", {"metadata": {
                    "name": name, "namespace": "kube-system",
                    "labels": {"component": component, "tier": "control-plane"},
                    "annotations": {MIRROR_ANNOTATION: digest,
                                    "kubernetes.io/config.hash": digest,
                                    "kubernetes.io/config.source": "file"},
                    "ownerReferences": [{"apiVersion": "v1", "kind": "Node",
                                         "name": nmd["name"], "uid": nmd["uid"],
                                         "controller": True}]},
                    "spec": {"nodeName": nmd["name"], "priority": 2000001000,
                             "priorityClassName": "system-node-critical",
                             "hostNetwork": True, "restartPolicy": "Always",
                             "terminationGracePeriodSeconds": 30,
                             "tolerations": [{"operator": "Exists", "effect": "NoExecute"}],
                             "containers": [{"name": component,
                                             "image": "registry.k8s.io/%s:v1.31.0" % component,
                                             "resources": {"requests": {
                                                 "cpu": cpu, "memory": memory}}}]},
                    "status": {"phase": "Pending", "qosClass": "Burstable"}},
                    copy_result=False)
                created += 1
        return created

    # ----------------------------------------------------------------- daemonsets
    def reconcile_daemonsets(self) -> None:
        """One pod per eligible node for every DaemonSet (nodeSelector, taints tolerated with
        the tolerations the DaemonSet controller adds), created bound to its node like the
        controller's node-affinity pods; pods on nodes that are gone or no longer eligible are
        deleted; status counts kept."""
        dss = self.store.list("daemonsets", copy=False)[0]
        if not dss:
            return
        nodes = self.store.list("nodes", copy=False)[0]
        for ds in dss:
            try:
                self._reconcile_daemonset(ds, nodes)
            except ApiError:
                continue

    def _reconcile_daemonset(self, ds: Dict[str, Any], nodes: List[Dict[str, Any]]) -> None:
        md, spec = ds["metadata"], ds.get("spec") or {}
        template = spec.get("template") or {}
        probe = {"spec": dict(template.get("spec") or {})}
        probe["spec"]["tolerations"] = list(probe["spec"].get("tolerations") or []) + \
            DAEMON_TOLERATIONS
        eligible = {n["metadata"]["name"] for n in nodes if _daemon_fits(probe, n)}
        by_node: Dict[str, List[Dict[str, Any]]] = {}
        for p in self.store.owned_by(md["uid"], "pods"):
            if (controller_ref(p) or {}).get("uid") == md["uid"] and \
                    not p["metadata"].get("deletionTimestamp"):
                by_node.setdefault((p.get("spec") or {}).get("nodeName", ""), []).append(p)
        for name in sorted(eligible - set(by_node)):
            self._create_daemon_pod(ds, name)
        for name, pods in sorted(by_node.items()):
            extra = pods if name not in eligible else sorted(
                pods, key=lambda p: p["metadata"].get("creationTimestamp", ""))[1:]
            for p in extra:
                try:
                    self.store.delete("pods", p["metadata"]["namespace"], p["metadata"]["name"])
                except NotFound:
                    pass
        pods = [p for n, ps in by_node.items() if n in eligible for p in ps[:1]]
        ready = sum(1 for p in pods if pod_ready(p))
        scheduled = len(set(by_node) & eligible) + len(eligible - set(by_node))
        status = {"currentNumberScheduled": scheduled,
                  "desiredNumberScheduled": len(eligible),
                  "numberMisscheduled": len(set(by_node) - eligible),
                  "numberReady": ready, "numberAvailable": ready,
                  "updatedNumberScheduled": scheduled,
                  "observedGeneration": md.get("generation", 1)}
        if len(eligible) - ready:
            status["numberUnavailable"] = len(eligible) - ready
        if (ds.get("status") or {}) != status:
            self.store.mutate("daemonsets", md["namespace"], md["name"],
                              lambda o: o.__setitem__("status", status), copy_result=False)

    def _create_daemon_pod(self, ds: Dict[str, Any], node: str) -> None:
        md = ds["metadata"]
        template = copy_obj((ds.get("spec") or {}).get("template") or {})
        tmd = template.get("metadata") or {}
        spec = template.get("spec") or {}
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("schedulerName", "default-scheduler")
        spec.setdefault("terminationGracePeriodSeconds", 30)
        spec.setdefault("priority", 0)
        spec["tolerations"] = list(spec.get("tolerations") or []) + [
            t for t in DAEMON_TOLERATIONS if t not in (spec.get("tolerations") or [])]
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [
                {"key": "metadata.name", "operator": "In", "values": [node]}]}]}}}
        spec["nodeName"] = node
        labels = dict(tmd.get("labels") or {})
        labels["pod-template-generation"] = str(md.get("generation", 1))
        labels["controller-revision-hash"] = template_hash(template)
        pod = {"metadata": {"generateName": md["name"] + "-", "namespace": md["namespace"],
                            "labels": labels,
                            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet",
                                                 "name": md["name"], "uid": md["uid"],
                                                 "controller": True,
                                                 "blockOwnerDeletion": True}]},
               "spec": spec, "status": {"phase": "Pending", "qosClass": _qos(spec)}}
        if tmd.get("annotations"):
            pod["metadata"]["annotations"] = dict(tmd["annotations"])
        created = self.store.create("pods", pod, copy_result=False)
        self._event(ds, "SuccessfulCreate", "Created pod: %s" % created["metadata"]["name"],
                    component="daemonset-controller")

    # ----------------------------------------------------------------- jobs
    def reconcile_jobs(self) -> None:
        """batch/v1 Jobs: keep min(parallelism, completions - succeeded) pods active; a pod
        that has run `twin.self-healing.io/run-s` seconds (default JOB_RUN_S) succeeds; the
        Job completes (condition Complete) when `completions` pods have succeeded."""
        jobs = self.store.list("jobs", copy=False)[0]
        now = self.now_fn()
        for job in jobs:
            try:
                self._reconcile_job(job, now)
            except ApiError:
                continue

    def _reconcile_job(self, job: Dict[str, Any], now: float) -> None:
        md, spec = job["metadata"], job.get("spec") or {}
        status = dict(job.get("status") or {})
        pods = [p for p in self.store.owned_by(md["uid"], "pods")
                if (controller_ref(p) or {}).get("uid") == md["uid"]]
        for p in pods:
            self._finish_job_pod(p, now)
        pods = [p for p in self.store.owned_by(md["uid"], "pods")
                if (controller_ref(p) or {}).get("uid") == md["uid"]]
        phase = lambda p: (p.get("status") or {}).get("phase", "Pending")  # noqa: E731
        succeeded = sum(1 for p in pods if phase(p) == "Succeeded")
        failed = sum(1 for p in pods if phase(p) == "Failed")
        active = [p for p in pods if not pod_terminal(p)
                  and not p["metadata"].get("deletionTimestamp")]
        completions = int(spec.get("completions") or 1)
        parallelism = int(spec.get("parallelism", 1))
        done = any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
                   for c in status.get("conditions") or [])
        if not done and not spec.get("suspend"):
            for _ in range(max(0, min(parallelism, completions - succeeded) - len(active))):
                self._create_job_pod(job)
        stamp = iso(now)
        status.setdefault("startTime", stamp)
        status.update({"active": len(active), "succeeded": succeeded, "failed": failed,
                       "ready": sum(1 for p in active if pod_ready(p)), "terminating": 0,
                       "uncountedTerminatedPods": {}})
        if succeeded >= completions and not done:
            status["completionTime"] = stamp
            status["conditions"] = (status.get("conditions") or []) + [
                {"type": "Complete", "status": "True", "lastProbeTime": stamp,
                 "lastTransitionTime": stamp}]
            self._event(job, "Completed", "Job completed", component="job-controller")
        for key in ("active", "succeeded", "failed"):
            if not status[key]:
                del status[key]
        if status != (job.get("status") or {}):
            self.store.mutate("jobs", md["namespace"], md["name"],
                              lambda o: o.__setitem__("status", status), copy_result=False)

    def _create_job_pod(self, job: Dict[str, Any]) -> None:
        md = job["metadata"]
        template = copy_obj((job.get("spec") or {}).get("template") or {})
        tmd = template.get("metadata") or {}
        spec = template.get("spec") or {}
        spec.setdefault("schedulerName", "default-scheduler")
        spec.setdefault("terminationGracePeriodSeconds", 30)
        spec.setdefault("priority", 0)
        pod = {"metadata": {"generateName": md["name"] + "-", "namespace": md["namespace"],
                            "labels": dict(tmd.get("labels") or {}),
                            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job",
                                                 "name": md["name"], "uid": md["uid"],
                                                 "controller": True,
                                                 "blockOwnerDeletion": True}]},
               "spec": spec, "status": {"phase": "Pending", "qosClass": _qos(spec)}}
        if tmd.get("annotations"):
            pod["metadata"]["annotations"] = dict(tmd["annotations"])
        created = self.store.create("pods", pod, copy_result=False)
        self._event(job, "SuccessfulCreate", "Created pod: %s" % created["metadata"]["name"],
                    component="job-controller")

    def _finish_job_pod(self, pod: Dict[str, Any], now: float) -> None:
        """The kubelet: a Job's running container exits 0 after its run time."""
        st = pod.get("status") or {}
        if st.get("phase") != "Running" or pod["metadata"].get("deletionTimestamp"):
            return
        try:
            run_s = float((pod["metadata"].get("annotations") or {}).get(
                RUN_ANNOTATION, JOB_RUN_S))
        except ValueError:
            run_s = JOB_RUN_S
        started = _epoch_of(st.get("startTime", "")) or now
        if now < started + run_s:
            return
        stamp = iso(now)

        def fn(obj: Dict[str, Any]) -> None:
            status = obj.setdefault("status", {})
            status["phase"] = "Succeeded"
            for cs in status.get("containerStatuses") or []:
                begun = ((cs.get("state") or {}).get("running") or {}).get("startedAt", stamp)
                cs["state"] = {"terminated": {"exitCode": 0, "reason": "Completed",
                                              "startedAt": begun, "finishedAt": stamp,
                                              "containerID": cs.get("containerID", "")}}
                cs["ready"] = False
                cs["started"] = False
            for c in status.get("conditions") or []:
                if c.get("type") in ("Ready", "ContainersReady"):
                    c.update({"status": "False", "reason": "PodCompleted",
                              "lastTransitionTime": stamp})
        md = pod["metadata"]
        self.store.mutate("pods", md["namespace"], md["name"], fn, copy_result=False)

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

    # ----------------------------------------------------------------- HPAs
    def reconcile_hpas(self) -> None:
        for hpa in self.store.list("horizontalpodautoscalers", copy=False)[0]:
            md, spec = hpa["metadata"], hpa.get("spec") or {}
            ref = spec.get("scaleTargetRef") or {}
            if ref.get("kind") != "Deployment":
                continue
            try:
                dep = self.store.get("deployments", md["namespace"], ref.get("name", ""))
            except NotFound:
                continue
            current = int((dep.get("spec") or {}).get("replicas", 1))
            desired = current
            util = self.hpa_metric_fn(hpa) if self.hpa_metric_fn else None
            target = _hpa_target(spec)
            if util is not None and target:
                ratio = util / target
                if abs(ratio - 1.0) > 0.1:
                    desired = int(math.ceil(current * ratio))
            desired = max(int(spec.get("minReplicas", 1)),
                          min(int(spec.get("maxReplicas", current)), desired))
            status: Dict[str, Any] = dict(hpa.get("status") or {})
            if desired != current:
                self.store.mutate("deployments", md["namespace"], ref["name"],
                                  lambda o, n=desired: o["spec"].__setitem__("replicas", n))
                status["lastScaleTime"] = iso(self.now_fn())
            status.update({"currentReplicas": current, "desiredReplicas": desired,
                           "observedGeneration": md.get("generation", 1)})
            if util is not None:
                status["currentMetrics"] = [{"type": "Resource", "resource": {
                    "name": "cpu", "current": {"averageUtilization": int(util)}}}]
            if status != (hpa.get("status") or {}):
                self.store.mutate("horizontalpodautoscalers", md["namespace"], md["name"],
                                  lambda o, s=status: o.__setitem__("status", s))

    # ----------------------------------------------------------------- events GC
    def gc_events(self) -> int:
        cutoff = iso(self.now_fn() - self.event_ttl_s)
        old = [e for e in self.store.list("events", copy=False)[0]
               if (e.get("lastTimestamp") or e["metadata"].get("creationTimestamp", "")) < cutoff]
        for e in old:
            try:
                self.store.delete("events", e["metadata"]["namespace"], e["metadata"]["name"])
            except NotFound:
                pass
        return len(old)


DEFAULT_TOLERATION_S = 300
_PLURAL = {"ReplicaSet": "replicasets", "ReplicationController": "replicationcontrollers"}
JOB_RUN_S = 10.0  # seconds a Job's container runs before it exits 0, unless annotated
RUN_ANNOTATION = "twin.self-healing.io/run-s"
DEFAULT_SHUTDOWN_S = 2.0  # seconds an app takes to exit on SIGTERM unless annotated
SHUTDOWN_ANNOTATION = "twin.self-healing.io/shutdown-s"
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
STATIC_PODS = (("etcd", "100m", "100Mi"), ("kube-apiserver", "250m", "512Mi"),
               ("kube-controller-manager", "200m", "128Mi"), ("kube-scheduler", "100m", "64Mi"))
# What the DaemonSet controller adds to every daemon pod (pkg/controller/daemon/util).
DAEMON_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists",
     "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]


def _daemon_fits(pod: Dict[str, Any], node: Dict[str, Any]) -> bool:
    """A daemon pod belongs on the node: nodeSelector matches, taints tolerated."""
    labels = node["metadata"].get("labels") or {}
    sel = (pod.get("spec") or {}).get("nodeSelector") or {}
    if any(labels.get(k) != v for k, v in sel.items()):
        return False
    return all(t.get("effect") not in ("NoSchedule", "NoExecute") or _tolerates(pod, t)
               for t in (node.get("spec") or {}).get("taints") or [])
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


def _epoch_of(ts: str) -> float:
    import calendar
    try:
        return float(calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")))
    except (TypeError, ValueError):
        return 0.0


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


def _hpa_target(spec: Dict[str, Any]) -> Optional[float]:
    for m in spec.get("metrics") or []:
        target = ((m.get("resource") or {}).get("target") or {})
        if target.get("averageUtilization"):
            return float(target["averageUtilization"])
    return None


def _deletion_rank(pod: Dict[str, Any]) -> Tuple[int, int, int, str, str]:
    """Pods deleted first: unscheduled, pending, not ready, then newest (like the real RS)."""
    st = pod.get("status") or {}
    return (0 if not (pod.get("spec") or {}).get("nodeName") else 1,
            0 if st.get("phase") == "Pending" else 1,
            1 if pod_ready(pod) else 0,
            _neg(pod["metadata"].get("creationTimestamp", "")), pod["metadata"]["name"])


def _neg(ts: str) -> str:
    return "".join(chr(255 - ord(c)) for c in ts)


def _qos(spec: Dict[str, Any]) -> str:
    containers = spec.get("containers") or []
    any_set = False
    guaranteed = bool(containers)
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in lim or parse_quantity(req.get(r, lim.get(r))) != parse_quantity(
                    lim.get(r)):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _start_fn(now: str, node: str, ip_suffix: str) -> Callable[[Dict[str, Any]], None]:
    def fn(pod: Dict[str, Any]) -> None:
        st = pod.setdefault("status", {})
        st["phase"] = "Running"
        st["startTime"] = now
        st["hostIP"] = "10.0.%d.1" % (zlib.crc32(node.encode()) % 250)
        st["podIP"] = "10.%d.%d.%d" % tuple(ord(c) % 250 for c in ip_suffix)
        conds = st.get("conditions") or []
        for ctype in ("Initialized", "ContainersReady", "Ready", "PodScheduled"):
            conds = _set_condition(conds, ctype, "True", "", "", now)
        for c in conds:
            if c.get("reason") == "":
                c.pop("reason", None)
                c.pop("message", None)
        st["conditions"] = conds
        st["containerStatuses"] = [{
            "name": c.get("name"), "image": c.get("image"), "imageID": "",
            "ready": True, "started": True, "restartCount": 0,
            "state": {"running": {"startedAt": now}}, "lastState": {},
            "containerID": "containerd://%s" % hashlib.sha1(
                (pod["metadata"]["uid"] + str(c.get("name"))).encode()).hexdigest()}
            for c in (pod.get("spec") or {}).get("containers") or []]
    return fn



"""Server-side defaults: what the API server's decoder fills in on create and update for the
kinds the pack and its users touch (pod specs, also in templates; Deployments, ReplicaSets,
DaemonSets, Jobs, Services; the initial status of a created object).

    apply_defaults(rt, obj, create=True)   # in place

Admission (twin.admission) applies them to client writes; the store applies them to what the
world and the controllers create, so both look like what a real server stores.
"""
from typing import Any, Dict

from twin.resources import ResourceType

TEMPLATED = ("deployments", "replicasets", "statefulsets", "daemonsets",
             "replicationcontrollers", "jobs")


def default_pod_spec(spec: Dict[str, Any]) -> None:
    """SetDefaults_PodSpec / _Container (the fields every real pod shows)."""
    if not isinstance(spec, dict):
        return
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("enableServiceLinks", True)
    if spec.get("serviceAccountName") and not spec.get("serviceAccount"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or []:
            if not isinstance(c, dict):
                continue
            image = str(c.get("image") or "")
            tag = image.rsplit("/", 1)[-1]
            latest = "@" not in image and (":" not in tag or tag.endswith(":latest"))
            c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
            c.setdefault("terminationMessagePath", "/dev/termination-log")
            c.setdefault("terminationMessagePolicy", "File")
            c.setdefault("resources", {})
            for port in c.get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")


def _default_template(obj: Dict[str, Any]) -> None:
    template = (obj.get("spec") or {}).get("template")
    if isinstance(template, dict):
        template.setdefault("metadata", {})
        default_pod_spec(template.get("spec") or {})


def apply_defaults(rt: ResourceType, obj: Dict[str, Any], create: bool) -> None:
    """Server-side defaults for the kinds the pack and its users touch."""
    spec = obj.get("spec")
    if rt.plural == "pods" and isinstance(spec, dict):
        default_pod_spec(spec)
        spec.setdefault("priority", 0)
        for toleration in (("node.kubernetes.io/not-ready", 300),
                           ("node.kubernetes.io/unreachable", 300)):
            tols = spec.setdefault("tolerations", [])
            if not any(isinstance(t, dict) and t.get("key") == toleration[0] for t in tols):
                tols.append({"key": toleration[0], "operator": "Exists",
                             "effect": "NoExecute", "tolerationSeconds": toleration[1]})
    if rt.plural in TEMPLATED and isinstance(spec, dict):
        _default_template(obj)
    if rt.plural in ("deployments", "replicasets", "statefulsets", "replicationcontrollers") \
            and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
    if rt.plural == "replicationcontrollers" and isinstance(spec, dict):
        template = spec.get("template") or {}
        labels = (template.get("metadata") or {}).get("labels")
        if not spec.get("selector") and labels:
            spec["selector"] = dict(labels)  # a ReplicationController selects its template
        if not (obj.get("metadata") or {}).get("labels") and labels:
            obj.setdefault("metadata", {})["labels"] = dict(labels)
    if rt.plural == "deployments" and isinstance(spec, dict):
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {})
        if isinstance(strategy, dict):
            strategy.setdefault("type", "RollingUpdate")
            if strategy["type"] == "RollingUpdate":
                ru = strategy.setdefault("rollingUpdate", {})
                if isinstance(ru, dict):
                    ru.setdefault("maxUnavailable", "25%")
                    ru.setdefault("maxSurge", "25%")
    if rt.plural == "daemonsets" and isinstance(spec, dict):
        spec.setdefault("revisionHistoryLimit", 10)
        strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        if isinstance(strategy, dict) and strategy.get("type", "RollingUpdate") == \
                "RollingUpdate":
            strategy.setdefault("type", "RollingUpdate")
            ru = strategy.setdefault("rollingUpdate", {})
            if isinstance(ru, dict):
                ru.setdefault("maxUnavailable", 1)
                ru.setdefault("maxSurge", 0)
    if rt.plural == "jobs" and isinstance(spec, dict) and create:
        _default_job(obj)
    if rt.plural == "services" and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
    if create and rt.has_status and rt.group not in _CUSTOM_STATUS_GROUPS:
        obj.setdefault("status", dict(_INITIAL_STATUS.get(rt.plural, {})))
        if rt.plural == "pods" and isinstance(obj["status"], dict):
            obj["status"].setdefault("phase", "Pending")


_CUSTOM_STATUS_GROUPS = frozenset({"cluster.x-k8s.io", "networking.istio.io",
                                   "cert-manager.io"})
_INITIAL_STATUS: Dict[str, Dict[str, Any]] = {
    "services": {"loadBalancer": {}},
    "daemonsets": {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                   "desiredNumberScheduled": 0, "numberReady": 0},
    "replicasets": {"replicas": 0},
    "poddisruptionbudgets": {"disruptionsAllowed": 0, "currentHealthy": 0,
                             "desiredHealthy": 0, "expectedPods": 0},
    "namespaces": {"phase": "Active"},
    "horizontalpodautoscalers": {"currentReplicas": 0, "desiredReplicas": 0},
    "statefulsets": {"replicas": 0, "availableReplicas": 0},
    "replicationcontrollers": {"replicas": 0},
}


def _default_job(job: Dict[str, Any]) -> None:
    spec = job["spec"]
    md = job.setdefault("metadata", {})
    spec.setdefault("parallelism", 1)
    spec.setdefault("completions", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    spec.setdefault("manualSelector", None)
    if spec.get("manualSelector") is None:
        spec.pop("manualSelector")
    uid = md.get("uid")
    if uid and not spec.get("selector"):
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        tmd = (spec.get("template") or {}).setdefault("metadata", {})
        labels = tmd.setdefault("labels", {})
        labels.update({"batch.kubernetes.io/controller-uid": uid, "controller-uid": uid,
                       "batch.kubernetes.io/job-name": md.get("name", ""),
                       "job-name": md.get("name", "")})

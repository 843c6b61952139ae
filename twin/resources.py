"""Registry of the resource types the twin serves: group, version, plural, kind, scope.

`RESOURCES[plural]` -> `ResourceType`; `by_path(group, version, plural)` finds one from a URL.
The store keys objects by plural; the API server uses the group/version to route and to fill
`apiVersion`/`kind` on objects and lists.
"""
from typing import Dict, FrozenSet, Optional, Tuple

COMMON_FIELDS = frozenset({"metadata.name", "metadata.namespace"})


class ResourceType:
    """One served resource (e.g. apps/v1 deployments)."""

    __slots__ = ("plural", "kind", "group", "version", "namespaced", "subresources",
                 "fields", "short_names", "singular", "verbs", "categories")

    def __init__(self, plural: str, kind: str, group: str, version: str, namespaced: bool,
                 subresources: Tuple[str, ...] = (), fields: FrozenSet[str] = frozenset(),
                 short_names: Tuple[str, ...] = (), verbs: Optional[Tuple[str, ...]] = None,
                 categories: Tuple[str, ...] = ()) -> None:
        self.verbs = verbs  # None: the usual eight; ("create",) for the access reviews
        self.categories = categories
        self.plural = plural
        self.kind = kind
        self.group = group
        self.version = version
        self.namespaced = namespaced
        self.subresources = subresources
        self.fields = COMMON_FIELDS | fields
        self.short_names = short_names
        self.singular = kind.lower()

    @property
    def api_version(self) -> str:
        return "%s/%s" % (self.group, self.version) if self.group else self.version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    def __repr__(self) -> str:
        return "ResourceType(%s/%s)" % (self.api_version, self.plural)


_POD_FIELDS = frozenset({
    "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
    "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"})
_EVENT_FIELDS = frozenset({
    "involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
    "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
    "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"})

_ALL = [
    ResourceType("namespaces", "Namespace", "", "v1", False, ("status",),
                 frozenset({"status.phase"}), ("ns",)),
    ResourceType("nodes", "Node", "", "v1", False, ("status", "proxy"),
                 frozenset({"spec.unschedulable"}), ("no",)),
    ResourceType("pods", "Pod", "", "v1", True,
                 ("status", "log", "eviction", "binding", "exec", "ephemeralcontainers"),
                 _POD_FIELDS, ("po",)),
    ResourceType("events", "Event", "", "v1", True, (), _EVENT_FIELDS, ("ev",)),
    ResourceType("configmaps", "ConfigMap", "", "v1", True, (), frozenset(), ("cm",)),
    ResourceType("secrets", "Secret", "", "v1", True, (), frozenset({"type"})),
    ResourceType("services", "Service", "", "v1", True, ("status", "proxy"), frozenset(),
                 ("svc",)),
    ResourceType("serviceaccounts", "ServiceAccount", "", "v1", True, (), frozenset(), ("sa",)),
    ResourceType("deployments", "Deployment", "apps", "v1", True, ("status", "scale"),
                 frozenset(), ("deploy",)),
    ResourceType("replicasets", "ReplicaSet", "apps", "v1", True, ("status", "scale"),
                 frozenset({"status.replicas"}), ("rs",)),
    ResourceType("statefulsets", "StatefulSet", "apps", "v1", True, ("status", "scale"),
                 frozenset(), ("sts",)),
    ResourceType("daemonsets", "DaemonSet", "apps", "v1", True, ("status",), frozenset(),
                 ("ds",)),
    ResourceType("horizontalpodautoscalers", "HorizontalPodAutoscaler", "autoscaling", "v2",
                 True, ("status",), frozenset(), ("hpa",)),
    ResourceType("poddisruptionbudgets", "PodDisruptionBudget", "policy", "v1", True,
                 ("status",), frozenset(), ("pdb",)),
    ResourceType("machinedeployments", "MachineDeployment", "cluster.x-k8s.io", "v1beta1",
                 True, ("status", "scale"), frozenset(), ("md",)),
    ResourceType("machines", "Machine", "cluster.x-k8s.io", "v1beta1", True, ("status",),
                 frozenset(), ("ma",)),
    ResourceType("destinationrules", "DestinationRule", "networking.istio.io", "v1beta1",
                 True, ("status",), frozenset(), ("dr",)),
    ResourceType("certificates", "Certificate", "cert-manager.io", "v1", True, ("status",),
                 frozenset(), ("cert",)),
    ResourceType("replicationcontrollers", "ReplicationController", "", "v1", True,
                 ("status", "scale"), frozenset(), ("rc",)),
    ResourceType("roles", "Role", "rbac.authorization.k8s.io", "v1", True),
    ResourceType("rolebindings", "RoleBinding", "rbac.authorization.k8s.io", "v1", True),
    ResourceType("clusterroles", "ClusterRole", "rbac.authorization.k8s.io", "v1", False),
    ResourceType("clusterrolebindings", "ClusterRoleBinding", "rbac.authorization.k8s.io",
                 "v1", False),
    ResourceType("apiservices", "APIService", "apiregistration.k8s.io", "v1", False,
                 ("status",)),
    ResourceType("jobs", "Job", "batch", "v1", True, ("status",),
                 frozenset({"status.successful"}), (), None, ("all",)),
    ResourceType("selfsubjectaccessreviews", "SelfSubjectAccessReview", "authorization.k8s.io",
                 "v1", False, verbs=("create",)),
    ResourceType("selfsubjectrulesreviews", "SelfSubjectRulesReview", "authorization.k8s.io",
                 "v1", False, verbs=("create",)),
    ResourceType("subjectaccessreviews", "SubjectAccessReview", "authorization.k8s.io", "v1",
                 False, verbs=("create",)),
    ResourceType("localsubjectaccessreviews", "LocalSubjectAccessReview",
                 "authorization.k8s.io", "v1", True, verbs=("create",)),
]

# Virtual resources: answered by the API server, never stored.
REVIEWS = frozenset({"selfsubjectaccessreviews", "selfsubjectrulesreviews",
                     "subjectaccessreviews", "localsubjectaccessreviews"})

RESOURCES: Dict[str, ResourceType] = {r.plural: r for r in _ALL}
_BY_PATH: Dict[Tuple[str, str, str], ResourceType] = {
    (r.group, r.version, r.plural): r for r in _ALL}
_BY_KIND: Dict[str, ResourceType] = {r.kind: r for r in _ALL}

# Extra group versions served for a plural (the object is stored once, in its main version).
# (Empty: autoscaling/v1 HPAs and events.k8s.io/v1 Events have other schemas; not served.)
ALIASES: Dict[Tuple[str, str, str], str] = {}

# Custom resource groups (served as CRDs: merge-patch only, no strategic merge).
CUSTOM_GROUPS = frozenset({"cluster.x-k8s.io", "networking.istio.io", "cert-manager.io"})


def get(plural: str) -> ResourceType:
    """The registered type for a plural; KeyError if unknown."""
    return RESOURCES[plural]


def by_path(group: str, version: str, plural: str) -> Optional[ResourceType]:
    """The type served at /api(s)/<group>/<version>/<plural>, or None."""
    rt = _BY_PATH.get((group, version, plural))
    if rt is None and (group, version, plural) in ALIASES:
        rt = RESOURCES[ALIASES[(group, version, plural)]]
    return rt


def by_kind(kind: str) -> Optional[ResourceType]:
    """The type whose kind is `kind` (e.g. "ReplicaSet"), or None."""
    return _BY_KIND.get(kind)


def group_versions() -> Dict[str, Tuple[str, ...]]:
    """{group: (versions...)} for discovery (core group is "")."""
    out: Dict[str, Tuple[str, ...]] = {}
    for (group, version, _plural) in list(_BY_PATH) + list(ALIASES):
        if version not in out.get(group, ()):
            out[group] = out.get(group, ()) + (version,)
    return out


def is_custom(rt: ResourceType) -> bool:
    """True for CRD-backed types (strategic merge patch is not supported there)."""
    return rt.group in CUSTOM_GROUPS

"""The catalogue of detectors and playbooks: every fact about them written once (data, no I/O).

Per detector: its trigger type (`self_healing.<name>`), its playbook (the workflow action the
rule starts) and that playbook's plan in prose, its target kind, the metadata part of its
trigger payload schema, its thresholds (the pack config schema of `detectors.<name>`, defaults
included), when its playbook calls the target recovered, the class that implements it, and
what diagnosis needs to correlate it (cause rank, resource family, symptom or cause). Per
playbook: the detector a manual run (`run_playbook`) signals as, its description, extra action
parameters, and whether it gets the generated per-target concurrency policy.

Read by: config.DETECTORS, signals.DETECTORS/KINDS, detectors.REGISTRY,
diagnosis.PLAYBOOK_BY_DETECTOR (and its ranks, families, symptoms), policy.KNOWN_PLAYBOOKS.
`target_key` lives here and only here (datastore and kube re-export it).

Written from it by `make generate` (tools/generate.py; a test fails on drift):
  rules/on_<detector>.yaml, policies/<playbook>_concurrency.yaml (the per-target ones), the
  whole of actions/<playbook>.yaml (description = the plan, then the parameters), the
  playbook list of actions/run_playbook.yaml and the playbook -> detector map of
  actions/workflows/run_playbook.yaml, the `detectors` section of config.schema.yaml (genuine
  StackStorm reads pack config defaults from that file, and lib.config derives every default
  from it), and the whole of sensors/detector_sensor.yaml (trigger types, payload schemas).

Kept by hand on purpose (each is one of a kind, not a per-detector repetition):
  - policies/cascade_protection_concurrency.yaml (one run per degraded upstream, not per
    target) and policies/export_metrics_one_at_a_time.yaml;
  - rules/alertmanager_webhook.yaml and the timer / sensor_degraded rules;
  - the workflows themselves (actions/workflows/<playbook>.yaml: each playbook's plan);
  - the rest of config.schema.yaml (every setting that is not a detector's).

Adding a detector: an entry in DETECTORS below (thresholds and plan included), its class in
lib/detectors/ and its playbook's workflow; then `make generate` (docs/design.md "Adding a
detector").
"""
import copy
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

PACK = "self_healing"
SEVERITIES = ("low", "medium", "high", "critical")
# Target kinds a signal may name (detectors use the first four kinds; Deployment comes from
# manual runs and Alertmanager alerts).
SIGNAL_KINDS = ("Node", "Pod", "Deployment", "Service", "Certificate")

# Property schemas of trigger payload metadata (StackStorm's draft-4 dialect).
NUMBER = {"type": ["number", "null"]}
INTEGER = {"type": ["integer", "null"]}
STRING = {"type": "string"}
BOOLEAN = {"type": "boolean"}

# Threshold schemas of the pack config (config.schema.yaml `detectors.<name>`, StackStorm's
# config-schema dialect; key order as written there).
DURATION = "^[0-9]+[smhd]$"  # a PromQL duration: 90s, 10m, 1h, 2d
PERSISTENCE = ("Persistence asked of a condition before it fires (seconds since its onset in "
               "the data)")
SHRINKING_PERSISTENCE = (
    PERSISTENCE + ". The wait shrinks with harm: for_s x (1/harm)^2, where harm is how many "
    "times over its threshold the condition is now, in the last scrape interval (never under "
    "15 s, never over for_s); the severity, read off the window, shortens nothing (cf. the "
    "alerts' for:).")


def number(description: str, default: Any, minimum: Optional[float] = None,
           maximum: Optional[float] = None, type_: str = "number") -> Dict[str, Any]:
    """A numeric threshold: description, type, minimum, maximum, default."""
    prop: Dict[str, Any] = {"description": description, "type": type_}
    for key, bound in (("minimum", minimum), ("maximum", maximum)):
        if bound is not None:
            prop[key] = bound
    prop["default"] = default
    return prop


def integer(description: str, default: int, minimum: Optional[int] = None,
            maximum: Optional[int] = None) -> Dict[str, Any]:
    """An integer threshold."""
    return number(description, default, minimum, maximum, "integer")


def duration(description: str, default: str) -> Dict[str, Any]:
    """A PromQL-duration threshold ("5m")."""
    return {"description": description, "type": "string", "pattern": DURATION,
            "default": default}


def string_list(description: str) -> Dict[str, Any]:
    """A list of names, empty by default."""
    return {"description": description, "type": "array", "items": {"type": "string"},
            "default": []}


def target_key(kind: str, namespace: Optional[str], name: str) -> str:
    """`<kind>.<namespace or _>.<name>` lower-case, `/` as `.`, e.g.
    `node._.gke-prod-pool-1-abc123`: the datastore-safe key of a target (locks, cooldowns,
    open signals) and the attribute the playbooks' concurrency policies serialise on."""
    parts = [kind or "_", namespace or "_", name or "_"]
    return ".".join(part.lower().replace("/", ".") for part in parts)


class Detector(NamedTuple):
    """One detector and the playbook its signals start."""
    name: str                    # trigger type self_healing.<name>; config detectors.<name>
    kind: str                    # the target kind of its signals
    playbook: str                # workflow action self_healing.<playbook> its rule starts
    trigger: str                 # trigger type description
    rule: str                    # rule description: what the playbook does
    metadata: Dict[str, Any]     # payload metadata properties
    recovery: str                # what the playbook verifies before calling it recovered
    implementation: str          # "<module under lib.detectors>.<class name>"
    plan: str                    # the playbook action's description: its plan, in prose
    cause_rank: int              # diagnosis: lower explains higher (symptoms last)
    summary: str                 # config.schema.yaml: description of detectors.<name>
    thresholds: Dict[str, Dict[str, Any]]  # its properties after `enabled` (name -> schema)
    family: Optional[str] = None    # diagnosis: node resource family ("any" = everything)
    symptom: bool = False           # a service symptom whose cause diagnosis looks for
    node_loss_symptom: bool = False  # what losing a node does to the services it ran
    min_severity: str = "medium"    # lowest severity that starts the playbook
    rule_checks_kind: bool = True   # the rule also requires target.kind == kind


class Playbook(NamedTuple):
    """One playbook workflow action (self_healing.<name>)."""
    name: str
    detector: str                # what a manual run (run_playbook) signals as
    description: str             # the action's description (its plan, in prose)
    extra_parameters: Tuple[Tuple[str, Dict[str, Any]], ...] = ()
    per_target_policy: bool = True  # generated policy: one run per target_key at a time


DETECTORS: Tuple[Detector, ...] = (
    Detector(
        "memory_pressure", "Node", "memory_pressure_node",
        trigger="Node memory utilisation above the threshold, with growth and time to "
                "exhaustion.",
        rule="Node memory pressure: cordon, relieve (rollback a leaking recent deploy, or evict "
             "and scale the pool), verify, uncordon.",
        metadata={"utilization_pct": NUMBER, "growth_pct_per_min": NUMBER,
                  "minutes_to_exhaustion": NUMBER, "threshold_pct": NUMBER},
        summary="Node memory utilisation above a threshold (node-exporter).",
        thresholds={
            "threshold_pct": number("Fire when node memory utilisation exceeds this percentage.",
                                    90, 1, 100),
            "growth_window": duration("Window (PromQL duration) over which the growth rate is "
                                      "measured.", "5m")},
        recovery="node memory utilisation < 70% for 5m",
        plan="Memory pressure on a node (seed playbook memory-pressure-node). Diagnose; if the "
             "top consumer belongs to a deployment rolled out within the last hour (a likely "
             "leak), cordon the node, roll that deployment back, notify, wait for node memory < "
             "70% for 5m, uncordon and file a fix task; otherwise cordon, evict non-critical "
             "pods (priority < high AND restartable), scale the node pool by 1, wait for memory "
             "< 70% for 5m and uncordon. Rollback: uncordon_node.",
        implementation="memory_pressure.MemoryPressureDetector",
        cause_rank=4, family="memory"),
    Detector(
        "memory_leak", "Pod", "memory_leak",
        trigger="A container's memory growing linearly to its limit within the horizon (time "
                "to OOM).",
        rule="Pod memory leak with predicted OOM: capture evidence, roll back a recent deploy "
             "or restart before the OOM.",
        metadata={"growth_rate_mb_per_min": NUMBER, "time_to_oom_minutes": NUMBER,
                  "current_usage_pct": NUMBER, "limit_bytes": NUMBER, "usage_bytes": NUMBER,
                  "container": STRING},
        summary="Container memory growing linearly towards its limit (time to OOM).",
        thresholds={
            "window": duration("deriv() window (PromQL duration).", "1h"),
            "horizon_s": integer("Fire when the projected time to OOM is below this many "
                                 "seconds.", 3600, 60),
            "namespaces": string_list("Namespaces to watch; empty = all namespaces."),
            "min_history_s": integer("Ignore containers with less memory history than this "
                                     "(seconds).", 600, 0)},
        recovery="no pod of the service projected to reach its memory limit within 1h, for 5m",
        plan="Memory leak in a pod with a predicted OOM (time_to_oom < 1 h). Capture the logs; "
             "if the owning deployment was rolled out within the last hour, roll it back "
             "(medium) and wait for the rollout; otherwise restart the pod before it is "
             "OOM-killed (low). Always file a fix task.",
        implementation="memory_leak.MemoryLeakDetector",
        cause_rank=1, family="memory"),
    Detector(
        "cpu_throttling", "Pod", "cpu_throttling",
        trigger="A container throttled in a large share of its CFS periods.",
        rule="Sustained CPU throttling: scale the owning deployment out and file a limits fix "
             "task.",
        metadata={"throttled_ratio": NUMBER, "throttled_ratio_last": NUMBER,
                  "container": STRING, "threshold_ratio": NUMBER,
                  "load_ratio": NUMBER},
        summary="Share of CFS periods in which a container was throttled.",
        thresholds={
            "ratio": number("Fire when throttled_periods / periods exceeds this ratio.",
                            0.25, 0, 1),
            "window": duration("rate() window (PromQL duration).", "5m"),
            "for_s": integer(PERSISTENCE + ", whatever the severity (read off the window, "
                             "it still holds a passed burst; cf. the alerts' for:).", 300, 0)},
        recovery="throttled share of CFS periods below the signal's threshold_ratio for 2m",
        plan="Sustained CPU throttling of a service's pods. Scale the deployment out by one "
             "replica (low, undone if the rollout does not complete), verify the rollout and "
             "file a task to revisit the CPU limits.",
        implementation="cpu_throttling.CpuThrottlingDetector",
        cause_rank=6, family="cpu", node_loss_symptom=True, rule_checks_kind=False),
    Detector(
        "crash_loop", "Pod", "pod_crash_loop",
        trigger="A container restarting repeatedly (restarts in a window or CrashLoopBackOff).",
        rule="Pod crash loop: capture logs, roll back a deploy of the last hour, scale up "
             "healthy replicas.",
        metadata={"restarts": INTEGER, "window_minutes": INTEGER, "reason": STRING,
                  "exit_code": INTEGER, "waiting_reason": STRING, "container": STRING},
        summary="Container restarting repeatedly.",
        thresholds={
            "restarts": integer("Fire when restarts within the window exceed this count.", 5, 1),
            "window": duration("Window (PromQL duration) over which restarts are counted.",
                               "10m")},
        recovery="the rollout completes and no container of the service restarts for 2m",
        plan="Pod crash loop (seed playbook pod-crash-loop: restarts > 5 in 10m). Capture logs "
             "(none), check recent deploys (none), roll back if deployed within the last hour "
             "(medium) and verify the rollout, scale up healthy replicas (low, +1), report. "
             "Without a recent deploy: restart the pod (low) and file a fix task. Rollback: "
             "redeploy the previous version (scale back, undo).",
        implementation="crash_loop.CrashLoopDetector",
        cause_rank=2, family="memory"),
    Detector(
        "latency_anomaly", "Service", "latency_anomaly",
        trigger="A service's p99 latency far above its own baseline.",
        rule="Latency anomaly on a service: diagnose, protect dependents, hand over to the root "
             "cause's playbook.",
        metadata={"p99_ms": NUMBER, "baseline_p99_ms": NUMBER, "ratio": NUMBER,
                  "ratio_last": NUMBER,
                  "load_ratio": NUMBER},
        summary="Service p99 latency far above its own baseline.",
        thresholds={
            "ratio": number("Fire when p99 / baseline p99 exceeds this ratio.", 2.0, 1),
            "window": duration("Window (PromQL duration) of the current p99.", "5m"),
            "baseline_window": duration("Window (PromQL duration) of the baseline p99.", "1h"),
            "min_p99_ms": number("Ignore services whose current p99 is below this "
                                 "(milliseconds).", 100, 0),
            "for_s": integer(SHRINKING_PERSISTENCE, 180, 0)},
        recovery="p99 below twice the baseline p99 for 3m (or the root cause's playbook's)",
        plan="Latency anomaly on a service. Diagnose first: if the root cause is another "
             "remediable signal, protect the degraded service's dependents (cascade_protection) "
             "and hand over to the root cause's playbook (nested workflow, same incident). "
             "Otherwise roll back a deploy of the last hour (medium) and verify the rollout, or "
             "escalate to a human with what was found.",
        implementation="latency_anomaly.LatencyAnomalyDetector",
        cause_rank=9, symptom=True, node_loss_symptom=True, rule_checks_kind=False),
    Detector(
        "error_rate", "Service", "error_rate",
        trigger="A service's 5xx ratio above its SLO.",
        rule="Error rate above baseline on a service: diagnose, protect dependents, hand over "
             "to the root cause's playbook.",
        metadata={"error_ratio": NUMBER, "baseline_error_ratio": NUMBER,
                  "slo_error_ratio": NUMBER},
        summary="Service 5xx ratio above its SLO.",
        thresholds={
            "slo_error_ratio": number("Fire when the 5xx / all requests ratio exceeds this.",
                                      0.05, 0, 1),
            "window": duration("rate() window (PromQL duration).", "5m"),
            "min_requests_per_s": number("Ignore services with less traffic than this "
                                         "(requests per second).", 0.1, 0),
            "for_s": integer(SHRINKING_PERSISTENCE, 120, 0)},
        recovery="5xx ratio below the SLO for 3m (or the root cause's playbook's)",
        plan="Error rate above baseline on a service. Diagnose first: if the root cause is "
             "another remediable signal, protect the degraded service's dependents "
             "(cascade_protection) and hand over to the root cause's playbook (nested workflow, "
             "same incident). Otherwise roll back a deploy of the last hour (medium) and verify "
             "the rollout, or escalate to a human with what was found.",
        implementation="error_rate.ErrorRateDetector",
        cause_rank=8, symptom=True, node_loss_symptom=True, rule_checks_kind=False),
    Detector(
        "disk_pressure", "Node", "disk_pressure",
        trigger="A node's root filesystem nearly full, filling up, or the DiskPressure "
                "condition.",
        rule="Node disk pressure: cordon, evict non-critical pods to free disk, verify free "
             "disk, uncordon, file a task.",
        metadata={"avail_pct": NUMBER, "hours_to_full": NUMBER,
                  "condition_disk_pressure": BOOLEAN},
        summary="Node root filesystem nearly full or filling up.",
        thresholds={
            "avail_pct": number("Fire when available space falls below this percentage.",
                                15, 0, 100),
            "horizon_h": number("Fire when the filesystem is projected full within this many "
                                "hours.", 4, 0),
            "window": duration("predict_linear() window (PromQL duration).", "1h")},
        recovery="free disk > 15% for 5m",
        plan="Disk pressure on a node. Cordon it (low), evict non-critical restartable pods to "
             "free ephemeral storage (medium, priority < high AND restartable == true), wait for "
             "free disk > 15% for 5m, uncordon (low) and file a fix task. Rollback: "
             "uncordon_node.",
        implementation="disk_pressure.DiskPressureDetector",
        cause_rank=5, family="disk"),
    Detector(
        "connection_pool", "Service", "connection_pool_exhaustion",
        trigger="A service's database connection pool saturated with waiting threads.",
        rule="Connection pool exhausted: restart idle connections, raise the pool temporarily, "
             "file a fix task.",
        metadata={"active": INTEGER, "max": INTEGER, "pending": INTEGER,
                  "utilization_pct": NUMBER},
        summary="Database connection pool (HikariCP) exhausted.",
        thresholds={
            "utilization": number("Fire when active / max exceeds this ratio ...", 0.9, 0, 1),
            "min_pending": integer("... and at least this many threads wait for a connection.",
                                   1, 0)},
        recovery="no request waits for a connection for 2m",
        plan="Connection pool exhausted (seed playbook connection-pool-exhaustion). Connection "
             "holders are identified by the diagnosis (none); restart idle connections (low); "
             "increase the pool size temporarily (medium, x1.5 for 30 minutes, reverted "
             "automatically); verify that no request waits for a connection for 2m; file a fix "
             "task to investigate the leak source (none).",
        implementation="connection_pool.ConnectionPoolDetector",
        cause_rank=3, rule_checks_kind=False),
    Detector(
        "certificate_expiry", "Certificate", "certificate_expiry",
        trigger="A cert-manager certificate expiring soon.",
        rule="Certificate close to expiry: notify the owners and file a renewal task; the "
             "incident goes to a human (nothing in the cluster is changed).",
        metadata={"days_left": NUMBER, "not_after": STRING, "issuer_name": STRING},
        summary="cert-manager certificate close to expiry.",
        thresholds={
            "days": number("Fire when a certificate expires within this many days.", 14, 0)},
        recovery="none automatic: a human renews the certificate (the incident is escalated)",
        plan="Certificate close to expiry. No automatic renewal is attempted (a wrong renewal "
             "breaks TLS); the owners are notified and a renewal task is filed, and the incident "
             "is escalated to a human.",
        implementation="certificate_expiry.CertificateExpiryDetector",
        cause_rank=7, min_severity="low", rule_checks_kind=False),
    Detector(
        "node_not_ready", "Node", "node_not_ready",
        trigger="A node Ready=False/Unknown beyond the grace period.",
        rule="Node NotReady past the grace period: cordon, drain through the Eviction API, "
             "replace capacity.",
        metadata={"ready_status": {"type": "string", "enum": ["False", "Unknown"]},
                  "not_ready_seconds": INTEGER},
        summary="Node Ready condition False or Unknown for longer than a grace period.",
        thresholds={
            "grace_s": integer("Seconds a node must stay NotReady before it counts as "
                               "unhealthy.", 300, 0)},
        recovery="every Deployment has its desired replicas available again for 1m",
        plan="Node NotReady past the grace period. Cordon it (low), drain it through the "
             "Eviction API (medium; PodDisruptionBudgets honoured), add a replacement node to "
             "its pool (low, +1) and file a task to repair or remove the node. Rollback: "
             "uncordon_node if the drain fails.",
        implementation="node_not_ready.NodeNotReadyDetector",
        cause_rank=0, family="any"),
)

# Playbooks no detector starts directly (a symptom playbook runs them).
EXTRA_PLAYBOOKS: Tuple[Playbook, ...] = (
    Playbook("cascade_protection", detector="error_rate", per_target_policy=False,
             description="Protect the dependents of a degraded upstream service (seed: "
                         "cascading-failure prevention). For each dependent: an Istio circuit "
                         "breaker towards the upstream (3 consecutive errors, 5000 ms, fallback "
                         "cached_response; revertible); then publish `upstream_degradation` "
                         "warnings on NATS subjects agents.<dependent>.warning (recommendation "
                         "activate_fallback, recovery 15m).",
             extra_parameters=(("dependents", {
                 "type": "array", "default": [],
                 "description": "Services that call the degraded one (default - the "
                                "diagnosis' dependency graph)."}),)),
)

PLAYBOOKS: Tuple[Playbook, ...] = tuple(
    Playbook(d.playbook, detector=d.name, description=d.plan) for d in DETECTORS
) + EXTRA_PLAYBOOKS

DETECTOR_NAMES: Tuple[str, ...] = tuple(d.name for d in DETECTORS)
PLAYBOOK_NAMES: Tuple[str, ...] = tuple(p.name for p in PLAYBOOKS)
PLAYBOOK_BY_DETECTOR: Dict[str, str] = {d.name: d.playbook for d in DETECTORS}
BY_NAME: Dict[str, Detector] = {d.name: d for d in DETECTORS}


def detector(name: str) -> Detector:
    """The catalogue entry of a detector; KeyError names the unknown one."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError("unknown detector %r (one of %s)" % (name, ", ".join(DETECTOR_NAMES))
                       ) from None


def trigger_ref(name: str) -> str:
    """`self_healing.<detector>`."""
    return "%s.%s" % (PACK, name)


def rule_severities(entry: Detector) -> Tuple[str, ...]:
    """Severities whose signals start the detector's playbook."""
    return SEVERITIES[SEVERITIES.index(entry.min_severity):]


# -- trigger payload schemas ------------------------------------------------------------------
def _target_schema(kinds: List[str]) -> Dict[str, Any]:
    return {"type": "object", "required": True,
            "properties": {"kind": {"type": "string", "enum": list(kinds)},
                           "namespace": {"type": "string"},
                           "name": {"type": "string", "minLength": 1},
                           "node": {"type": "string"}},
            "additionalProperties": False}


def payload_schema(name: str) -> Dict[str, Any]:
    """The payload_schema of trigger `self_healing.<name>` (StackStorm's dialect: `required`
    inside each property); what lib.signals.Signal.to_dict() produces."""
    entry = detector(name)
    return {"type": "object", "properties": {
        "signal_id": {"type": "string",
                      "description": "<detector>.<target_key>.<epoch of first_detected>",
                      "required": True},
        "detector": {"type": "string", "enum": [entry.name], "required": True},
        "target": _target_schema([entry.kind]),
        "target_key": {"type": "string",
                       "description": "<kind>.<namespace or _>.<name> of the target, "
                                      "lower-case (lib.catalogue.target_key); the rules pass "
                                      "it to the playbook's concurrency policy.",
                       "required": True},
        "service": {"type": "string", "description": "Service (Deployment) concerned, or empty.",
                    "required": True},
        "severity": {"type": "string", "enum": list(SEVERITIES), "required": True},
        "first_detected": {"type": "string", "format": "date-time",
                           "description": "When the condition began, from the data.",
                           "required": True},
        "detected_at": {"type": "string", "format": "date-time",
                        "description": "When the poll saw it.", "required": True},
        "summary": {"type": "string", "required": True},
        "evidence": {"type": "object", "required": True,
                     "properties": {"query": {"type": "string"},
                                    "values": {"type": "object"}}},
        "metadata": {"type": "object", "required": True,
                     "properties": copy.deepcopy(entry.metadata)},
    }, "additionalProperties": False}


def cleared_payload_schema() -> Dict[str, Any]:
    """Payload of `self_healing.signal_cleared` (lib.signal_state's cleared events)."""
    return {"type": "object", "properties": {
        "detector": {"type": "string", "enum": list(DETECTOR_NAMES), "required": True},
        "target": _target_schema(list(SIGNAL_KINDS)),
        "signal_id": {"type": "string", "required": True},
        "cleared_at": {"type": "string", "format": "date-time", "required": True},
    }, "additionalProperties": False}


def degraded_payload_schema() -> Dict[str, Any]:
    """Payload of `self_healing.sensor_degraded` (lib.detectors.poller)."""
    return {"type": "object", "properties": {
        "source": {"type": "string", "enum": ["prometheus", "kubernetes"], "required": True},
        "detector": {"type": "string",
                     "description": "The first detector that hit the failure (may be empty).",
                     "required": True},
        "error": {"type": "string", "required": True},
        "since": {"type": "string", "format": "date-time", "required": True},
    }, "additionalProperties": False}


def trigger_types() -> List[Dict[str, Any]]:
    """Every trigger type the detector sensor declares, in catalogue order."""
    types = [{"name": d.name, "description": d.trigger, "payload_schema": payload_schema(d.name)}
             for d in DETECTORS]
    types.append({"name": "signal_cleared",
                  "description": "A condition signalled earlier has ended (the trigger re-arms).",
                  "payload_schema": cleared_payload_schema()})
    types.append({"name": "sensor_degraded",
                  "description": "A data source of the detectors failed (emitted once per "
                                 "outage).",
                  "payload_schema": degraded_payload_schema()})
    return types

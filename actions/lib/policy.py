"""The shared risk-policy gate: execute, escalate or deny one remediation step.

Checks run in this order; the first one that objects decides (see CHECK_ORDER):
  1. input      unknown playbook / bad step / unknown risk / missing target / bad budget -> deny
  2. mode       observe -> deny
  3. kill       kill switch engaged -> deny
  4. superseded the incident now belongs to another playbook: diagnosis refined its root
                cause away from the step's playbook (lib.policy_superseded) -> deny
                (mutating, not restoring, with an incident; an unreadable record is noted
                in the reason and audit, never a denial)
  5. protected  protected namespace, protected label, critical priority class, target
                missing or its labels unreadable -> deny
  6. freeze     inside a change-freeze window -> deny               (mutating, not restoring)
  7. lock       target locked by another incident -> deny           (mutating)
  8. cooldown   target remediated by another incident recently -> deny (mutating, not restoring)
  9. storm      too many unhealthy nodes now, or a storm seen within storm_cooldown_s -> deny
                (node-scope steps: target kind Node or budget cordon/eviction, not restoring)
 10. cordon     the healer already has max_cordoned_nodes other nodes cordoned, or let
                through for cordoning within the last 600 s (pending cordons) -> deny
 11. rate       eviction/rollback units in the last hour + units > budget -> deny
                (bucket: the target's namespace, `_cluster` for Nodes)
 12. risk       critical -> escalate; above the playbook's max autonomous risk -> escalate,
                unless `approved` (a human approved the plan)
Mode dry_run, or a dry_run request, turns an execute into `execute` with dry_run true and no
side effects (no lock, cooldown or budget spent); `would` tells what autonomous mode would do
(also in observe mode, where the decision is always deny).
A real execute of a mutating step takes the target lock, starts the target cooldown and reserves
its eviction/rollback units (or a pending cordon); `reservation` names the reservation, which
settle_budget later settles to what the step really did (lib.policy_budget). Every decision is
audited (datastore + Kubernetes Event).
"""
import re
from typing import Any, Dict, List, Optional, Tuple

from lib import audit, clock, incidents, policy_superseded
from lib.catalogue import PLAYBOOK_NAMES, target_key
from lib.policy_budget import (BUDGET_PREFIX, HOUR_S, namespace_of, pending_cordons,  # noqa: F401
                               reserve, spend_units, spent_units)

RISKS = ("none", "low", "medium", "high", "critical")
KNOWN_PLAYBOOKS = PLAYBOOK_NAMES
BUDGETS = ("eviction", "rollback", "cordon", "none")
CLUSTER_SCOPED = ("Node",)
TARGET_KINDS = ("Node", "Pod", "Deployment", "Service", "Certificate", "ConfigMap",
                "StatefulSet", "DaemonSet", "MachineDeployment", "HorizontalPodAutoscaler",
                "DestinationRule")
CRITICAL_PRIORITY_CLASSES = ("system-cluster-critical", "system-node-critical")
RESTORING_PREFIXES = ("uncordon", "revert", "restore")
STEP_RE = re.compile(r"^[a-z][a-z0-9_]*$")
CHECK_ORDER = ("input", "mode", "kill", "superseded", "protected", "freeze", "lock", "cooldown",
               "storm", "cordon", "rate", "risk")

KILL_SWITCH_KEY = "self_healing.kill_switch"
STORM_KEY = "self_healing.storm"
LOCK_PREFIX = "self_healing.lock."
COOLDOWN_PREFIX = "self_healing.cooldown."
LOCK_TTL_S = 4 * 3600


def default_budget(step: str) -> str:
    """Budget a step spends by its name: evict*/drain* eviction, rollback*, cordon*."""
    if step.startswith(("evict", "drain")):
        return "eviction"
    if step.startswith("rollback"):
        return "rollback"
    if step.startswith("cordon"):
        return "cordon"
    return "none"


def normalise_playbook(playbook: str) -> str:
    """`memory-pressure-node` and `memory_pressure_node` name the same playbook."""
    return (playbook or "").strip().replace("-", "_")


class Request(object):
    """One question to the gate."""

    def __init__(self, playbook: str, step: str, risk: str, target: Optional[Dict[str, Any]],
                 incident_id: str = "", dry_run: bool = False, budget: Optional[str] = None,
                 units: int = 1, approved: bool = False, workflow: str = "") -> None:
        self.playbook = normalise_playbook(str(playbook or ""))
        self.step = str(step or "").strip()
        self.risk = str(risk or "").strip().lower()
        self.target = dict(target) if isinstance(target, dict) else {}
        self.incident_id = incident_id or ""
        self.dry_run = bool(dry_run)
        self.budget = budget or default_budget(self.step)
        self.units = units
        self.approved = bool(approved)
        self.workflow = workflow or ""

    @property
    def mutating(self) -> bool:
        return self.risk != "none"

    @property
    def restoring(self) -> bool:
        return self.step.startswith(RESTORING_PREFIXES)

    @property
    def node_scope(self) -> bool:
        return self.target.get("kind") == "Node" or self.budget in ("cordon", "eviction")

    @property
    def key(self) -> str:
        t = self.target
        return target_key(t.get("kind", ""), t.get("namespace"), t.get("name", ""))

    @property
    def owner(self) -> str:
        return self.incident_id or "adhoc:%s" % self.playbook


class Gate(object):
    """Evaluates requests against settings, the datastore and the cluster."""

    def __init__(self, settings: Any, store: Any, cluster: Any = None, kube: Any = None) -> None:
        self.settings = settings
        self.store = store
        self.cluster = cluster
        self.kube = kube
        self._nodes = None  # type: Optional[List[Any]]
        self._owner = ""  # what the superseded check learnt of the incident's owner

    # -- public ---------------------------------------------------------------------------
    def decide(self, req: Request) -> Dict[str, Any]:
        """Evaluate, apply side effects of a real execute, audit; return the output dict."""
        now = clock.now()
        self._nodes = None
        self._owner = ""
        mode = self.settings.mode
        max_risk = self._max_risk(req)
        result = {"decision": "deny", "reason": "", "dry_run": req.dry_run or mode == "dry_run",
                  "mode": mode, "risk": req.risk, "max_risk": max_risk, "check": "",
                  "would": "", "budget_left": None, "audit_key": "", "event_error": None,
                  "units": req.units, "reservation": ""}
        verdict = None
        for name in CHECK_ORDER:
            verdict = getattr(self, "_check_" + name)(req, now, result)
            if verdict is not None:
                result["check"] = name
                break
        if verdict is None:
            verdict = ("execute", "risk %s within %s for %s" % (req.risk, max_risk, req.playbook)
                       if not req.approved else "approved by a human")
            result["check"] = "risk"
        decision, reason = verdict
        result["would"] = decision
        if result["check"] == "mode":
            result["would"] = self._would(req, now, result)
        if decision in ("execute", "escalate") and result["dry_run"]:
            result["decision"] = "execute"
            result["reason"] = "dry run: would %s (%s)" % (decision, reason)
        else:
            result["decision"] = decision
            result["reason"] = reason
        if self._owner.startswith("unknown") and result["check"] != "superseded":
            result["reason"] += " [%s]" % (policy_superseded.UNKNOWN_OWNER % (
                req.incident_id, self._owner[len("unknown: "):]))
        if result["decision"] == "execute" and not result["dry_run"] and req.mutating:
            result["reservation"] = self._apply(req, now)
            if req.budget in ("eviction", "rollback") and result["budget_left"] is not None:
                result["budget_left"] = max(0, result["budget_left"] - req.units)
        self._audit(req, result)
        return result

    # -- checks: return None to pass, or (decision, reason) ---------------------------------
    def _check_input(self, req: Request, now: float, out: Dict[str, Any]) -> Optional[Tuple]:
        if req.playbook not in KNOWN_PLAYBOOKS:
            return ("deny", "unknown playbook %r" % req.playbook)
        if not STEP_RE.match(req.step):
            return ("deny", "bad step name %r (a-z, 0-9 and _, starting with a letter)" % req.step)
        if req.risk not in RISKS:
            return ("deny", "unknown risk level %r (one of %s)" % (req.risk, "/".join(RISKS)))
        kind, name = req.target.get("kind"), req.target.get("name")
        if not kind or not name:
            return ("deny", "missing target (kind and name are required)")
        if kind not in TARGET_KINDS:
            return ("deny", "unknown target kind %r" % kind)
        if kind not in CLUSTER_SCOPED and not req.target.get("namespace"):
            return ("deny", "missing target namespace for %s %s" % (kind, name))
        if req.budget not in BUDGETS:
            return ("deny", "unknown budget %r (one of %s)" % (req.budget, "/".join(BUDGETS)))
        if not isinstance(req.units, int) or isinstance(req.units, bool) or req.units < 1:
            return ("deny", "units must be an integer >= 1, got %r" % (req.units,))
        return None

    def _check_mode(self, req: Request, now: float, out: Dict[str, Any]) -> Optional[Tuple]:
        if self.settings.mode == "observe":
            return ("deny", "mode is observe: the pack only watches")
        return None

    def _check_kill(self, req: Request, now: float, out: Dict[str, Any]) -> Optional[Tuple]:
        switch = self.store.get_json(KILL_SWITCH_KEY, None) or {}
        if switch.get("engaged"):
            return ("deny", "kill switch engaged by %s: %s" % (
                switch.get("by") or "someone", switch.get("reason") or "no reason given"))
        return None

    def _check_superseded(self, req: Request, now: float, out: Dict[str, Any]
                          ) -> Optional[Tuple]:
        if not req.mutating or req.restoring or not req.incident_id:
            return None
        key = incidents.key_of(req.incident_id)
        try:
            record = self.store.get_json(key, None)
            if record is None and getattr(self.store, "get_raw", None) is not None \
                    and self.store.get_raw(key):
                raise ValueError("the stored record is not valid JSON")
        except Exception as exc:
            self._owner = "unknown: %s" % exc
            return None
        if record is None:
            self._owner = "none: no incident record"
            return None
        if not isinstance(record, dict):
            self._owner = "unknown: the stored record is not an object"
            return None
        self._owner = str(record.get("playbook") or "")
        owner = policy_superseded.superseded(record, req.playbook)
        if owner:
            return ("deny", policy_superseded.reason(record, req.incident_id, owner))
        return None

    def _check_protected(self, req: Request, now: float, out: Dict[str, Any]) -> Optional[Tuple]:
        namespace = req.target.get("namespace") or ""
        if namespace and namespace in self.settings.protected_namespaces:
            return ("deny", "namespace %s is protected" % namespace)
        if self.cluster is None:
            return None
        try:
            meta = self.cluster.target_meta(req.target)
        except Exception as exc:
            return ("deny", "cannot verify the target is unprotected: %s" % exc)
        if meta is None:
            return ("deny", "target %s %s not found" % (req.target["kind"], req.target["name"]))
        labels = meta.get("labels") or {}
        for label, value in dict(self.settings.protected_labels).items():
            if label in labels and str(labels[label]) == str(value):
                return ("deny", "target carries protected label %s=%s" % (label, value))
        if meta.get("priority_class") in CRITICAL_PRIORITY_CLASSES:
            return ("deny", "pod has priority class %s (never evicted)" % meta["priority_class"])
        return None

    def _check_freeze(self, req: Request, now: float, out: Dict[str, Any]) -> Optional[Tuple]:
        if not req.mutating or req.restoring:
            return None
        for window in self.settings.change_freeze:
            if clock.parse_iso(window["start"]) <= now < clock.parse_iso(window["end"]):
                return ("deny", "change freeze until %s: %s" % (
                    window["end"], window.get("reason") or "no reason given"))
        return None

    def _check_lock(self, req: Request, now: float, out: Dict[str, Any]) -> Optional[Tuple]:
        if not req.mutating:
            return None
        lock = self.store.get_json(LOCK_PREFIX + req.key, None)
        if lock and lock.get("incident_id") != req.owner:
            return ("deny", "target locked by %s (%s) since %s" % (
                lock.get("incident_id"), lock.get("workflow") or "?", lock.get("at")))
        return None

    def _check_cooldown(self, req: Request, now: float, out: Dict[str, Any]) -> Optional[Tuple]:
        if not req.mutating or req.restoring:
            return None
        cooldown = self.store.get_json(COOLDOWN_PREFIX + req.key, None)
        if not cooldown or cooldown.get("incident_id") == req.owner:
            return None
        age = now - float(cooldown.get("at_epoch", 0))
        limit = self.settings.budgets["target_cooldown_s"]
        if age < limit:
            return ("deny", "target in cooldown: remediated by %s %ds ago (cooldown %ds)" % (
                cooldown.get("incident_id"), int(age), limit))
        return None

    def _check_storm(self, req: Request, now: float, out: Dict[str, Any]) -> Optional[Tuple]:
        if not req.mutating or req.restoring or not req.node_scope:
            return None
        budgets = self.settings.budgets
        storm = self.store.get_json(STORM_KEY, None)
        if self.cluster is not None:
            try:
                nodes = self._cluster_nodes()
            except Exception as exc:
                return ("deny", "cannot count unhealthy nodes: %s" % exc)
            unhealthy = sorted(n.name for n in nodes if n.unhealthy_reason(now))
            limit = storm_limit(len(nodes), budgets["max_unhealthy_nodes"],
                                budgets["max_unhealthy_nodes_pct"])
            if len(unhealthy) > limit:
                record = {"since": (storm or {}).get("since") or clock.isoformat(now),
                          "last_seen_epoch": now, "unhealthy": unhealthy,
                          "total_nodes": len(nodes)}
                self.store.set_json(STORM_KEY, record, int(budgets["storm_cooldown_s"]) + 60)
                return ("deny", "node storm: %d of %d nodes unhealthy (%s), limit %d" % (
                    len(unhealthy), len(nodes), ", ".join(unhealthy[:5]), limit))
        if storm:
            age = now - float(storm.get("last_seen_epoch", 0))
            if age < budgets["storm_cooldown_s"]:
                return ("deny", "storm cooldown: %d unhealthy nodes seen %ds ago (hold %ds)" % (
                    len(storm.get("unhealthy") or []), int(age), budgets["storm_cooldown_s"]))
        return None

    def _check_cordon(self, req: Request, now: float, out: Dict[str, Any]) -> Optional[Tuple]:
        if req.budget != "cordon" or not req.mutating or self.cluster is None:
            return None
        limit = self.settings.budgets["max_cordoned_nodes"]
        try:
            cordoned = set(n.name for n in self._cluster_nodes()
                           if n.cordoned_by_healer() and n.name != req.target.get("name"))
        except Exception as exc:
            return ("deny", "cannot count cordoned nodes: %s" % exc)
        pending = set(pending_cordons(self.store, now, req.target.get("name", ""))) - cordoned
        counted = sorted(cordoned) + sorted(pending)
        out["budget_left"] = max(0, limit - len(counted))
        if len(counted) >= limit:
            return ("deny", "cordon budget spent: %d node(s) already cordoned by the healer "
                            "(%s), max %d" % (len(counted), ", ".join(
                                sorted(cordoned) + ["%s (pending)" % n for n in sorted(pending)]),
                                limit))
        return None

    def _check_rate(self, req: Request, now: float, out: Dict[str, Any]) -> Optional[Tuple]:
        if req.budget not in ("eviction", "rollback") or not req.mutating:
            return None
        limit = rate_limit(self.settings, req.budget)
        spent = spent_units(self.store, req.budget, namespace_of(req.target), now)
        out["budget_left"] = max(0, limit - spent)
        if spent + req.units > limit:
            return ("deny", "%s budget for namespace %s: %d used in the last hour, %d more "
                            "would exceed %d" % (req.budget, namespace_of(req.target), spent,
                                                 req.units, limit))
        return None

    def _check_risk(self, req: Request, now: float, out: Dict[str, Any]) -> Optional[Tuple]:
        if req.approved:
            return None
        if req.risk == "critical":
            return ("escalate", "critical steps are never autonomous")
        max_risk = out["max_risk"]
        if RISKS.index(req.risk) > RISKS.index(max_risk):
            return ("escalate", "risk %s above max autonomous risk %s for %s" % (
                req.risk, max_risk, req.playbook))
        return None

    # -- helpers ----------------------------------------------------------------------------
    def _would(self, req: Request, now: float, result: Dict[str, Any]) -> str:
        """In observe mode: what autonomous mode would decide (for the shadow report)."""
        scratch = dict(result)
        for name in CHECK_ORDER[CHECK_ORDER.index("mode") + 1:]:
            verdict = getattr(self, "_check_" + name)(req, now, scratch)
            if verdict is not None:
                return verdict[0]
        return "execute"

    def _cluster_nodes(self) -> List[Any]:
        """The node list, read once per decision."""
        if self._nodes is None:
            self._nodes = list(self.cluster.nodes())
        return self._nodes or []

    def _max_risk(self, req: Request) -> str:
        try:
            return self.settings.max_risk_for(req.playbook)
        except Exception:
            return self.settings.max_autonomous_risk

    def _apply(self, req: Request, now: float) -> str:
        """Lock, cooldown and budget reservation of a real execute; the reservation key."""
        at = clock.isoformat(now)
        lock_key = LOCK_PREFIX + req.key
        if not self.store.get_json(lock_key, None):
            self.store.set_json(lock_key, {"incident_id": req.owner, "workflow": req.workflow
                                           or req.playbook, "at": at, "target": req.target},
                                LOCK_TTL_S)
        if not req.restoring:
            self.store.set_json(COOLDOWN_PREFIX + req.key,
                                {"incident_id": req.owner, "at": at, "at_epoch": now,
                                 "step": req.step},
                                int(self.settings.budgets["target_cooldown_s"]) or None)
        if req.budget in ("eviction", "rollback", "cordon"):
            return reserve(self.store, req.budget, req.target, req.units, req.owner, req.step,
                           now)
        return ""

    def _audit(self, req: Request, result: Dict[str, Any]) -> None:
        record = {"type": "policy_decision", "playbook": req.playbook, "step": req.step,
                  "risk": req.risk, "target": req.target, "incident_id": req.incident_id,
                  "decision": result["decision"], "reason": result["reason"],
                  "check": result["check"], "would": result["would"],
                  "dry_run": result["dry_run"], "mode": result["mode"],
                  "approved": req.approved, "budget": req.budget, "units": req.units,
                  "reservation": result.get("reservation", ""),
                  "incident_owner": self._owner}
        key = audit.append(self.store, record)
        result["audit_key"] = key
        if req.target.get("kind") in TARGET_KINDS and req.target.get("name"):
            message = "%s %s/%s (risk %s): %s%s" % (
                result["decision"], req.playbook, req.step, req.risk, result["reason"],
                " [incident %s]" % req.incident_id if req.incident_id else "")
            error = audit.write_event(self.kube, req.target, result["decision"], message)
        else:
            error = "no target to attach an Event to"
        result["event_error"] = error
        if error:
            audit.update(self.store, key, {"event_error": error})


def storm_limit(total_nodes: int, max_nodes: int, max_pct: float) -> int:
    """Most unhealthy nodes tolerated: min(absolute, pct of total), never below one node."""
    by_pct = int(total_nodes * float(max_pct) / 100.0)
    return max(1, min(int(max_nodes), by_pct)) if max_nodes > 0 else 0


def rate_limit(settings: Any, budget: str) -> int:
    """Units per hour per namespace for `eviction` or `rollback`."""
    key = "max_evictions_per_hour_per_namespace" if budget == "eviction" \
        else "max_rollbacks_per_hour_per_namespace"
    return int(settings.budgets[key])


def release_incident(store: Any, incident_id: str, settings: Any = None) -> List[str]:
    """Release every target lock held by an incident; restart those targets' cooldowns."""
    released = []
    now = clock.now()
    for key, value in audit.store_items(store, LOCK_PREFIX):
        if isinstance(value, dict) and value.get("incident_id") == incident_id:
            store.delete(key)
            released.append(key[len(LOCK_PREFIX):])
            if settings is not None:
                ttl = int(settings.budgets["target_cooldown_s"])
                store.set_json(COOLDOWN_PREFIX + key[len(LOCK_PREFIX):],
                               {"incident_id": incident_id, "at": clock.isoformat(now),
                                "at_epoch": now, "step": "released"}, ttl or None)
    return released


def budgets_left(settings: Any, store: Any, namespaces: List[str],
                 cluster: Any = None) -> Dict[str, Any]:
    """Remaining blast-radius budgets (for status displays)."""
    now = clock.now()
    left = {"evictions": {}, "rollbacks": {}}  # type: Dict[str, Any]
    for ns in namespaces:
        left["evictions"][ns] = max(0, rate_limit(settings, "eviction")
                                    - spent_units(store, "eviction", ns, now))
        left["rollbacks"][ns] = max(0, rate_limit(settings, "rollback")
                                    - spent_units(store, "rollback", ns, now))
    if cluster is not None:
        try:
            cordoned = set(n.name for n in cluster.nodes() if n.cordoned_by_healer())
            cordoned.update(pending_cordons(store, now))
            left["cordons"] = max(0, settings.budgets["max_cordoned_nodes"] - len(cordoned))
        except Exception as exc:
            left["cordons"] = "unknown (%s)" % exc
    storm = store.get_json(STORM_KEY, None)
    if storm and now - float(storm.get("last_seen_epoch", 0)) < settings.budgets[
            "storm_cooldown_s"]:
        left["storm_hold_until"] = clock.isoformat(
            float(storm["last_seen_epoch"]) + settings.budgets["storm_cooldown_s"])
    return left

"""Recorded stand-ins for the pack's actions, run inside the local engine's ActionRunner.

The engine conducts the pack's real workflows (orquesta 1.2.0) and runs StackStorm built-ins
(core.ask with an InquiryPolicy, chatops.post_message captured); every `self_healing.*` Python
action is answered from a table of recorded results. Parameters are still validated against
the action's metadata (actions/<name>.yaml) when it exists, so a wrong parameter name in a
workflow fails the test.
"""
import copy
from typing import Any, Callable, Dict, List, Optional

from engine import workflows  # noqa: F401  (registers st2 expression functions before orquesta loads)
from engine import builtins as engine_builtins
from engine import expressions
from engine import params as param_utils
from engine.actions import FAILED, SUCCEEDED, ActionRunner
from engine.pack import Pack, PackError
from lib import routing

START = 1795835842.0  # 2026-11-28T03:17:22Z


class ManualClock(object):
    def __init__(self, start: float = START) -> None:
        self.value = start

    def now(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += max(0.0, float(seconds))


class Failure(object):
    """A recorded failed result: `Failure({"error": "..."})`."""

    def __init__(self, result: Dict[str, Any]) -> None:
        self.result = result


class Recorded(object):
    """The fake side of the pack: gate decisions, incident records and action results."""

    def __init__(self, pack: Pack, results: Optional[Dict[str, Any]] = None,
                 decisions: Optional[Dict[str, str]] = None, mode: str = "autonomous") -> None:
        self.pack = pack
        self.results = dict(results or {})
        self.decisions = dict(decisions or {})
        self.mode = mode
        self.timeline = []  # type: List[Dict[str, str]]
        self.statuses = []  # type: List[Dict[str, str]]
        self.calls = []  # type: List[Dict[str, Any]]
        self.gate_calls = []  # type: List[Dict[str, Any]]
        self.checks = {}  # type: Dict[str, str]  # step -> the gate's `check` output

    # -- the fakes -------------------------------------------------------------------------
    def check_policy(self, params: Dict[str, Any]) -> Any:
        self.gate_calls.append(params)
        step = params["step"]
        if self.mode == "observe":
            return {"decision": "deny", "reason": "mode is observe: the pack only watches",
                    "dry_run": False, "mode": "observe", "risk": params["risk"]}
        decision = self.decisions.get(step, "execute")
        if params.get("approved") and decision == "escalate":
            decision = "execute"
        dry = bool(params.get("dry_run")) or self.mode == "dry_run"
        return {"decision": decision, "reason": "recorded decision %s for %s" % (decision, step),
                "dry_run": dry if decision == "execute" else False, "mode": self.mode,
                "risk": params["risk"], "max_risk": "low", "audit_key": "a.%d"
                % len(self.gate_calls), "check": self.checks.get(step, "")}

    def record_timeline(self, params: Dict[str, Any]) -> Any:
        entry = {k: v for k, v in params.items() if k not in ("incident_id", "plan", "action",
                                                               "was_dry_run")}
        entry["dry_run"] = bool(params.get("was_dry_run"))
        self.timeline.append(entry)
        return {"incident_id": params["incident_id"], "entries": len(self.timeline)}

    def set_incident_status(self, params: Dict[str, Any]) -> Any:
        self.statuses.append({"status": params["status"], "reason": params.get("reason", "")})
        return {"incident_id": params["incident_id"], "status": params["status"]}

    def create_incident_report(self, params: Dict[str, Any]) -> Any:
        lines = ["%s: %s" % (e["type"], e["message"]) for e in self.timeline]
        return {"incident_id": params["incident_id"], "text": "\n".join(lines)}

    def diagnose(self, params: Dict[str, Any]) -> Any:
        if isinstance(self.results.get("diagnose"), Failure):
            return self.results["diagnose"]
        result = {"incident_id": params.get("incident_id") or "inc-20261128-031722-test",
                  "playbook": "", "reasoning": ["recorded diagnosis"]}
        result.update(self.results.get("diagnose", {}))
        # the real action's routing for the calling playbook (lib.routing, not a copy)
        result.update(routing.routed(result, params.get("playbook") or "",
                                     bool(params.get("incident_id"))))
        result["watch_first"] = routing.watch_first(result, params.get("playbook") or "",
                                                    bool(params.get("incident_id")))
        if not params.get("incident_id"):
            self.timeline.append({"type": "DETECT", "message": params["signal"].get("summary",
                                                                                     "")})
            self.timeline.append({"type": "DIAGNOSE", "message": "; ".join(result["reasoning"])})
        return result

    def watch_symptom(self, params: Dict[str, Any]) -> Any:
        """By default the watched symptom persists (the playbook goes on as without a watch)."""
        return {"state": "persists", "watched_s": 0.0, "window_s": 0.0, "value": None,
                "reason": "recorded: still there", "for_s": 0.0}

    # -- plumbing --------------------------------------------------------------------------
    def handler(self, ref: str) -> Callable[[Any, Any], Any]:
        name = ref.split(".", 1)[1]

        def run(runner: Any, execution: Any) -> Any:
            params = self._validated(ref, execution.parameters)
            self.calls.append({"ref": ref, "params": params})
            special = getattr(self, name, None)
            if special is not None and (name not in self.results or name == "diagnose"):
                value = special(params)
            else:
                value = self.results.get(name, {"changed": True})
                if callable(value):
                    value = value(params)
            value = copy.deepcopy(value)
            if isinstance(value, Failure):
                return FAILED, {"result": value.result, "exit_code": 1}
            return SUCCEEDED, {"result": value, "exit_code": 0, "stdout": "", "stderr": ""}
        return run

    def _validated(self, ref: str, params: Dict[str, Any]) -> Dict[str, Any]:
        try:
            meta = self.pack.action(ref)
        except PackError:
            return dict(params)
        return param_utils.prepare(meta.parameters, params, meta.runner_type)

    def refs(self) -> List[str]:
        return [c["ref"] for c in self.calls]

    def called(self, name: str) -> List[Dict[str, Any]]:
        return [c["params"] for c in self.calls if c["ref"] == "self_healing." + name]

    def types(self) -> List[str]:
        return [e["type"] for e in self.timeline]


PYTHON_ACTIONS = (
    "check_policy", "diagnose", "record_timeline", "set_incident_status",
    "create_incident_report", "create_fix_task", "cordon_node", "uncordon_node", "drain_node",
    "evict_pods", "identify_top_memory_pods", "capture_logs", "restart_pod",
    "check_recent_deploys", "rollback_deployment", "scale_deployment", "restart_deployment",
    "wait_for_rollout", "configure_circuit_breaker", "notify_dependents",
    "increase_pool_size_temporarily", "restart_idle_connections", "scale_node_pool",
    "wait_for_condition", "revert_expired_changes", "mark_false_positive",
    "check_displaced_pods", "judge_memory_curve", "watch_symptom")


def make_runner(recorded: Recorded, clock: ManualClock, approve: str = "approve") -> ActionRunner:
    """An engine ActionRunner whose Python actions are the recorded fakes."""
    fakes = {"self_healing." + name: recorded.handler("self_healing." + name)
             for name in PYTHON_ACTIONS}
    runner = ActionRunner(pack=recorded.pack, config=recorded.pack.config({}),
                          now_fn=clock.now, builtins=fakes, sleep_fn=clock.advance)
    runner.inquiry_policy = engine_builtins.InquiryPolicy(approve, respond_after_s=60)
    runner.chat = engine_builtins.ChatLog()
    expressions.set_datastore(runner.store)
    return runner


def add_recorded_action(runner: ActionRunner, recorded: Recorded, name: str) -> None:
    """Answer one more `self_healing.<name>` action from `recorded` (e.g. settle_budget in the
    budget workflow tests), on a runner made by make_runner."""
    runner.builtins["self_healing." + name] = recorded.handler("self_healing." + name)

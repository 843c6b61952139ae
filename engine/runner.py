"""The engine's main loop: world steps, sensor polls, timers, triggers -> rules -> actions.

Single-threaded and deterministic for a given seed. `clock.sleep()` inside an action advances
the world (`Engine.sleep`), and sensors keep polling meanwhile; a trigger dispatched while a
workflow waits is enforced at once (nested), which is how concurrent executions appear here;
`action.concurrency.attr` policies then delay (queue) or cancel the newcomer.
"""
import json
import math
from typing import Any, Callable, Dict, List, Optional

from engine import actions as ex
from engine import builtins, expressions, rules
from engine.chatops import ChatOps, NoMatch
from engine.datastore import Datastore
from engine.payload_schema import st2_payload_validator
from engine.pack import Pack, deep_merge
from engine.policies import ConcurrencyPolicies
from engine.sensors import SensorContainer

INTERVAL_TIMER = "core.st2.IntervalTimer"
TIMER_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}
TERMINAL_INCIDENT = ("resolved", "escalated", "failed")
INCIDENT_PREFIX = "self_healing.incident."


class Engine(object):
    """The pack wired to a world (the twin or a stand-in with `clock`, `advance_seconds`)."""

    def __init__(self, world: Any, pack: Optional[Pack] = None, mode: str = "autonomous",
                 approve: str = "auto", config_overrides: Optional[Dict[str, Any]] = None,
                 echo: Optional[Callable[[str], None]] = None,
                 action_latency_s: float = 0.3, sensors: Optional[List[str]] = None,
                 validate_payloads: bool = True, store: Optional[Datastore] = None) -> None:
        """`store`: a datastore to carry over (a restarted StackStorm keeps its MongoDB)."""
        self.world = world
        self.pack = pack or Pack()
        self.echo = echo or (lambda text: None)
        self.now = world.clock.now
        self.store = store if store is not None else Datastore(self.now)
        self.config = self.pack.config(deep_merge(_world_config(world, mode),
                                                  config_overrides or {}))
        self.runner = ex.ActionRunner(self.pack, self.config, self.store, now_fn=self.now,
                                      sleep_fn=self.sleep)
        self.runner.inquiry_policy = builtins.InquiryPolicy(approve)
        self.runner.chat = builtins.ChatLog(self._echo_chat)
        self.runner.dispatch_trigger = self.dispatch_now
        self.runner.listeners.append(self._on_execution)
        self.action_latency_s = action_latency_s
        self.policies = ConcurrencyPolicies(self.pack.resources("policies"), self.runner)
        self.runner.before_run.append(self.policies)
        self.rules = rules.load_rules(self.pack.resources("rules"))
        self.chatops = ChatOps(self.pack.resources("aliases"), self.runner, self.store)
        self.chat_approve = "!heal inquiry {inquiry_id} approve"
        self.chat_deny = "!heal inquiry {inquiry_id} deny {reason}"
        self.runner.inquiry_policy.responder = self._answer_in_chat
        self.matcher = rules.RuleMatcher(self.now, self.store)
        self.sensors = SensorContainer(self.pack, self.config, self.store, self.enqueue,
                                       self.now, only=sensors)
        self.validate_payloads = validate_payloads
        self.queue: List[Dict[str, Any]] = []
        self.triggers: List[Dict[str, Any]] = []
        self.enforcements: List[Dict[str, Any]] = []
        self.errors: List[str] = []
        self.timers: List[Dict[str, Any]] = []
        self.scheduled: List[Dict[str, Any]] = []
        self._timeline_seen: Dict[str, int] = {}
        self.progress_every_s = 60.0
        self.status_fn: Optional[Callable[[], str]] = None
        self._next_progress = 0.0
        self._polling = False
        self._poll_buffer: Optional[List[Any]] = None
        self._started = False

    # ------------------------------------------------------------------ setup
    def start(self) -> None:
        """Install the virtual clock, start sensors and timers."""
        from lib import clock
        clock.set_time_source(self.now, self.sleep)
        expressions.set_datastore(self.store)
        self.sensors.start()
        self.errors.extend(self.sensors.load_errors)
        for error in self.sensors.load_errors:
            self.echo("sensor failed to start: %s" % error.splitlines()[0])
        if not self.sensors.sensors:
            self.echo("warning: no sensor is running (sensors/*.yaml)")
        for rule in self.rules:
            if rule.enabled and rule.trigger_type == INTERVAL_TIMER:
                params = rule.trigger_parameters
                period = float(params.get("delta", 1)) * TIMER_UNITS.get(
                    params.get("unit", "seconds"), 1)
                self.timers.append({"rule": rule, "period": period,
                                    "next": self.now() + period})
        self._started = True

    def stop(self) -> None:
        from lib import clock
        self.sensors.stop()
        clock.reset()

    # ------------------------------------------------------------------ time
    def sleep(self, seconds: float) -> None:
        """Advance the world by `seconds`, polling sensors and firing timers on the way."""
        end = self.now() + max(0.0, float(seconds))
        while self.now() < end - 1e-6:
            step = end - self.now()
            for due in (self.sensors.next_due(), self._next_timer(), self._next_scheduled()):
                if due is not None and due > self.now() + 1e-6:
                    step = min(step, due - self.now())
            _advance(self.world, step)
            self.tick()

    def tick(self) -> None:
        """Do what is due now: sensor polls, timers, queued triggers, delayed executions."""
        if not self._polling:
            self._polling = True
            self._poll_buffer = []
            try:
                self.sensors.poll_due()
            finally:
                self._polling = False
                # sensors may dispatch from worker threads: a stable order keeps runs repeatable
                buffered, self._poll_buffer = self._poll_buffer, None
                for trigger, payload, trace_tag in sorted(
                        buffered, key=lambda item: (item[0], json.dumps(item[1], sort_keys=True,
                                                                        default=str))):
                    self.enqueue(trigger, payload, trace_tag)
        self._fire_timers()
        self._run_scheduled()
        self.runner.inquiry_policy.process_due(self.now())
        self.drain()
        if not self.runner.stack and self.runner.delayed:
            self.runner.run_delayed()
        self.report_progress()

    def report_progress(self) -> None:
        """Echo new incident timeline entries, and a status line every `progress_every_s`."""
        for incident in self.incidents():
            entries = incident.get("timeline") or []
            seen = self._timeline_seen.get(incident.get("id"), 0)
            for entry in entries[seen:]:
                first = str(entry.get("message", "")).split("\n")[0]
                self.echo("%s  [%s] %s: %s" % (_hms_iso(entry.get("at")), incident.get("id"),
                                               entry.get("type"), _clip(first, 140)))
            self._timeline_seen[incident.get("id")] = len(entries)
        if self.progress_every_s and self.status_fn is not None and \
                self.now() >= self._next_progress:
            self._next_progress = self.now() + self.progress_every_s
            self.echo("%s  .. %s" % (_hms(self.now()), self.status_fn()))

    def schedule(self, delay_s: float, fn: Callable[[Any, "Engine"], None],
                 label: str = "") -> None:
        """Call `fn(world, engine)` once, `delay_s` virtual seconds from now (fault injection)."""
        self.scheduled.append({"at": self.now() + max(0.0, float(delay_s)), "fn": fn,
                               "label": label or getattr(fn, "__name__", "scheduled")})
        self.scheduled.sort(key=lambda item: item["at"])

    def _next_scheduled(self) -> Optional[float]:
        return self.scheduled[0]["at"] if self.scheduled else None

    def _run_scheduled(self) -> None:
        while self.scheduled and self.scheduled[0]["at"] <= self.now() + 1e-6:
            item = self.scheduled.pop(0)
            self.echo("%s  scheduled: %s" % (_hms(self.now()), item["label"]))
            item["fn"](self.world, self)

    def _next_timer(self) -> Optional[float]:
        return min((t["next"] for t in self.timers), default=None)

    def _fire_timers(self) -> None:
        for timer in self.timers:
            if timer["next"] <= self.now() + 1e-6:
                timer["next"] += timer["period"]
                from lib import clock
                self.enqueue(INTERVAL_TIMER, {"executed_at": clock.isoformat(self.now()),
                                              "schedule": None}, None, timer["rule"])

    # ------------------------------------------------------------------ triggers
    def enqueue(self, trigger: str, payload: Dict[str, Any], trace_tag: Optional[str] = None,
                only_rule: Optional[rules.Rule] = None) -> None:
        """sensor_service.dispatch(): validated, recorded, enforced on the next tick."""
        if self._poll_buffer is not None and only_rule is None:
            self._poll_buffer.append((trigger, payload, trace_tag))
            return
        instance = {"id": "trigger-%05d" % (len(self.triggers) + 1), "type": trigger,
                    "payload": json.loads(json.dumps(payload, default=str)),
                    "at": self.now(), "trace_tag": trace_tag, "rules": []}
        problem = self._payload_problem(trigger, instance["payload"])
        if problem:
            self.errors.append("trigger %s payload rejected: %s" % (trigger, problem))
            instance["rejected"] = problem
            self.triggers.append(instance)
            return
        self.triggers.append(instance)
        if trigger != INTERVAL_TIMER:
            self.echo("%s  trigger %s %s" % (_hms(self.now()), trigger,
                                             _describe_payload(instance["payload"])))
        self.queue.append({"instance": instance, "only_rule": only_rule})

    def webhook(self, url: str, body: Any, headers: Optional[Dict[str, str]] = None
                ) -> Dict[str, Any]:
        """POST /api/v1/webhooks/<url>: a `core.st2.webhook` instance for rules on that URL,
        enforced at once. Returns the trigger instance (its `rules` say what matched)."""
        self.enqueue(rules.WEBHOOK, rules.webhook_payload(body, headers))
        instance = self.triggers[-1]
        instance["parameters"] = {"url": url.strip("/")}
        self.drain()
        return instance

    def dispatch_now(self, trigger: str, payload: Dict[str, Any]) -> None:
        """Dispatch and enforce immediately (used for core.st2.generic.inquiry)."""
        self.enqueue(trigger, payload)
        self.drain()

    def drain(self) -> None:
        while self.queue:
            item = self.queue.pop(0)
            self._enforce(item["instance"], item["only_rule"])

    def _enforce(self, instance: Dict[str, Any], only_rule: Optional[rules.Rule]) -> None:
        errors: List[str] = []
        if only_rule is not None:
            matched = [only_rule]
        else:
            matched = rules.matching(self.rules, self.matcher, instance["type"],
                                     instance["payload"], errors, instance.get("parameters"))
        self.errors.extend(errors)
        for rule in matched:
            instance["rules"].append(rule.ref)
            record = {"rule": rule.ref, "trigger": instance["id"], "at": self.now(),
                      "action": rule.action_ref, "execution": None, "error": None}
            self.enforcements.append(record)
            try:
                params = self.matcher.render_parameters(rule, instance["payload"])
            except rules.RuleError as error:
                record["error"] = str(error)
                self.errors.append(str(error))
                continue
            execution = self.runner.run(rule.action_ref, params,
                                        {"rule": rule.ref, "trigger_instance": instance["id"],
                                         "trigger_type": instance["type"]})
            record["execution"] = execution.id
            record["status"] = execution.status

    def _payload_problem(self, trigger: str, payload: Dict[str, Any]) -> Optional[str]:
        schema = self.sensors.trigger_schemas.get(trigger)
        if not self.validate_payloads or not schema:
            return None
        import jsonschema
        try:
            st2_payload_validator()(schema).validate(payload)
        except jsonschema.ValidationError as error:
            return "%s at %s" % (error.message, "/".join(str(p) for p in error.path))
        return None

    # ------------------------------------------------------------------ chat
    def chat_command(self, text: str, user: str = "operator",
                     channel: str = "#incidents") -> ex.Execution:
        """Type a command in chat (`!heal status`): alias -> action, ack and result posted."""
        return self.chatops.command(text, user=user, channel=channel)

    def _answer_in_chat(self, inquiry: Any, approve: bool) -> None:
        template = self.chat_approve if approve else self.chat_deny
        text = template.format(inquiry_id=inquiry.id, reason="denied from chat")
        try:
            self.chat_command(text, user="operator")
        except NoMatch as error:
            self.errors.append("chat answer to Inquiry %s: %s" % (inquiry.id, error))

    # ------------------------------------------------------------------ reporting
    def _on_execution(self, event: str, execution: ex.Execution) -> None:
        top = not execution.context.get("parent")
        if event == "finished" and execution.runner_type == "python-script":
            if self.action_latency_s > 0:
                self.sleep(self.action_latency_s)  # a python runner is not instantaneous
        if top and event in ("started", "finished", "delayed") and \
                execution.context.get("trigger_type") != INTERVAL_TIMER:
            self.echo("%s  %s %s %s" % (_hms(self.now()), event, execution.ref,
                                        "" if event == "started" else execution.status))

    def _echo_chat(self, message: Dict[str, Any]) -> None:
        text = _clip(str(message.get("message", "")).replace("\n", " | "), 150)
        who = " <%s>" % message["user"] if message.get("kind") == "user" else ""
        self.echo("%s  chat %s%s: %s" % (_hms(message["at"]), message.get("channel"), who, text))

    def incidents(self) -> List[Dict[str, Any]]:
        found = []
        for item in self.store.list(INCIDENT_PREFIX):
            try:
                found.append(json.loads(item.value))
            except (TypeError, ValueError):
                continue
        return sorted(found, key=lambda inc: (inc.get("created_at") or "", inc.get("id")))


def _world_config(world: Any, mode: str) -> Dict[str, Any]:
    config: Dict[str, Any] = {"mode": mode}
    if getattr(world, "kubeconfig_path", None):
        config["kubernetes"] = {"kubeconfig": world.kubeconfig_path, "in_cluster": False}
    if getattr(world, "prometheus_url", None):
        config["prometheus"] = {"url": world.prometheus_url}
    if getattr(world, "nats_url", None):
        config["nats"] = {"url": world.nats_url}
    extra = getattr(world, "pack_config", None)
    if callable(extra):
        extra = extra()
    if isinstance(extra, dict):
        config = deep_merge(extra, config)
    return config


def _advance(world: Any, seconds: float) -> None:
    if hasattr(world, "advance_seconds"):
        world.advance_seconds(seconds)
    else:
        world.clock.advance(seconds)


def _hms(epoch: float) -> str:
    from lib import clock
    return clock.isoformat(math.floor(epoch))[11:19]


def _hms_iso(value: Any) -> str:
    from engine.timeparse import to_epoch
    try:
        return _hms(to_epoch(value))
    except (TypeError, ValueError):
        return "--:--:--"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def _describe_payload(payload: Dict[str, Any]) -> str:
    target = payload.get("target") or {}
    if target:
        severity = payload.get("severity")
        return "%s %s/%s%s" % (target.get("kind", ""), target.get("namespace") or "_",
                               target.get("name", ""), " [%s]" % severity if severity else "")
    return ""


"""Diagnose a signal into an incident (or join the open incident it belongs to)."""
import logging
from typing import Any, Dict, List, Optional

from lib import clock, diagnosis, incidents, routing, st2_links
from lib.base_action import ActionInputError, SelfHealingAction
from lib.diagnosis_facts import ClusterFacts

LOG = logging.getLogger(__name__)
RECENT_PREFIX = "self_healing.recent_signal."


def handovers_of(record: Dict[str, Any]) -> List[str]:
    """Playbooks the incident was handed over to so far (its `handovers` field)."""
    return incidents.handovers(record)


class Diagnose(SelfHealingAction):
    """Tests may set `facts` to a fake facts source and `client` to a fake st2client."""

    facts = None  # type: Any
    client = None  # type: Any

    def execute(self, signal: Optional[Dict[str, Any]] = None, incident_id: str = "",
                playbook: str = "") -> Dict[str, Any]:
        """The diagnosis, plus `route` / `next_playbook` / `watch_first` for the calling
        `playbook` (lib.routing; a given incident_id means the run was handed over)."""
        result = self._diagnose(signal, incident_id)
        result.update(routing.routed(result, playbook or "", bool(incident_id)))
        result["watch_first"] = routing.watch_first(result, playbook or "", bool(incident_id))
        return result

    def _diagnose(self, signal: Optional[Dict[str, Any]], incident_id: str) -> Dict[str, Any]:
        if not isinstance(signal, dict) or not signal.get("detector") or \
                not isinstance(signal.get("target"), dict):
            raise ActionInputError("signal: must be a signal payload with detector and target")
        store = self.datastore()
        book = incidents.Incidents(store, int(self.settings.incident_ttl_s))
        if incident_id and book.find(incident_id):
            record = book.get(incident_id)
            if self._claim(record):
                book.save(record)
            return self._existing(record)
        recent = [v for v in store.list_json(RECENT_PREFIX).values() if isinstance(v, dict)]
        result = diagnosis.diagnose(signal, self._facts(), recent, book.open_incidents())
        if result["joined"] or result.get("refined"):
            return self._join(book, signal, result)
        return self._open(book, signal, result, incident_id)

    def _claim(self, record: Dict[str, Any]) -> bool:
        """Record the workflow execution running this diagnosis on the incident (its
        `workflow_executions`), so that reconcile_incidents can tell when no workflow of the
        incident is left running. True when the record changed."""
        own_id = st2_links.current_execution_id()
        client = (self.client or st2_links.client_from_environment()) if own_id else None
        owner = st2_links.owning_workflow(client, own_id) if client is not None else ""
        owners = record.setdefault("workflow_executions", [])
        if not owner or owner in owners:
            return False
        owners.append(owner)
        return True

    def _facts(self) -> Any:
        if self.facts is not None:
            return self.facts
        kube = prom = None
        try:
            kube = self.kube
        except Exception as error:
            LOG.warning("diagnosis without Kubernetes facts: %s", error)
        try:
            from lib.prom import Prom

            prom = Prom.from_settings(self.settings.prometheus)
        except Exception as error:
            LOG.warning("diagnosis without Prometheus facts: %s", error)
        return ClusterFacts(self.settings, kube, prom)

    def _join(self, book: Any, signal: Dict[str, Any], result: Dict[str, Any]) -> Dict[str, Any]:
        record = book.get(result["incident_id"])
        claimed = self._claim(record)
        if diagnosis.merge_joined(record, signal, result):
            incidents.append_entry(record, "DETECT", "%s (joined: %s)" % (
                signal.get("summary") or signal.get("signal_id"), result["summary"]),
                at=signal.get("detected_at"), kind="detect", target=signal.get("target"))
            if result.get("refined"):
                incidents.append_entry(record, "DIAGNOSE", result["reasoning"][-1],
                                       kind="diagnosis",
                                       playbook=result.get("refined_playbook"))
            book.save(record)
        elif claimed:
            book.save(record)
        out = self._output(record)
        out.update(joined=result["joined"], reasoning=result["reasoning"],
                   summary=result["summary"],
                   refined=bool(result.get("refined")),
                   refined_playbook=result.get("refined_playbook") or "")
        return out

    def _open(self, book: Any, signal: Dict[str, Any], result: Dict[str, Any],
              incident_id: str) -> Dict[str, Any]:
        detected = clock.parse_iso(result["detected_at"])
        new_id = incident_id or incidents.new_id(detected, result["root_cause"].get(
            "signal_id") or signal.get("signal_id") or "")
        fields = {k: result[k] for k in (
            "root_cause", "signals", "affected_services", "severity", "confidence",
            "reasoning", "playbook", "playbook_params", "onset", "detected_at", "targets",
            "nodes")}
        record = incidents.new_record(new_id, trigger=signal,
                                      trigger_summary=signal.get("summary") or "", **fields)
        incidents.append_entry(record, "DETECT", signal.get("summary") or signal["detector"],
                               at=signal.get("detected_at"), kind="detect",
                               target=signal.get("target"))
        incidents.append_entry(record, "DIAGNOSE", result["summary"], kind="diagnosis",
                               playbook=result.get("playbook"))
        self._claim(record)
        book.create(record)
        out = self._output(record)
        out.update(joined=False, summary=result["summary"])
        return out

    def _existing(self, record: Dict[str, Any]) -> Dict[str, Any]:
        out = self._output(record)
        out.update(joined=False, summary=(record.get("root_cause") or {}).get("summary", ""))
        return out

    @staticmethod
    def _output(record: Dict[str, Any]) -> Dict[str, Any]:
        params = record.get("playbook_params") or {}
        handovers = handovers_of(record)
        trigger = (record.get("trigger") or {}).get("detector") or ""
        ran = [p for p in [diagnosis.PLAYBOOK_BY_DETECTOR.get(trigger, "")] +
               list(record.get("playbook_history") or []) + handovers if p]
        return {"handovers": handovers, "playbooks_ran": sorted(set(ran)),
                "incident_id": record["id"], "root_cause": record.get("root_cause") or {},
                "affected_services": record.get("affected_services") or [],
                "severity": record.get("severity", ""),
                "confidence": record.get("confidence", 0.0),
                "playbook": record.get("playbook", ""), "playbook_params": params,
                "reasoning": record.get("reasoning") or [],
                "signals": record.get("signals") or [],
                "node_pool": params.get("node_pool") or ""}

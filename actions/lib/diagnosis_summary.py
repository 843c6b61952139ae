"""Diagnosis, the answer: the playbook to run, its parameters and the DIAGNOSE line."""
from typing import Any, Dict, List

from lib.diagnosis_base import PLAYBOOK_BY_DETECTOR, SYMPTOMS, Sig, gigabytes


class Summary(object):
    """The summarizing part of the Diagnoser."""

    def params_for(self, root: Sig, onset: float) -> Dict[str, Any]:
        target = root.target
        params = {"node": root.node, "namespace": target["namespace"],
                  "service": root.service, "deployment": root.service,
                  "pod": target["name"] if target["kind"] == "Pod" else "",
                  "target": dict(target)}
        change = self.recent_change(target["namespace"], root.service, onset) \
            if root.service else None
        params.update(self.change_params(change, onset))
        if not change and root.service:
            params["version"] = self.current_version(target["namespace"], root.service)
        return params

    def playbook_for(self, root: Sig, cluster: List[Sig], node_pressure: bool) -> str:
        if node_pressure and root.detector in ("memory_leak", "memory_pressure"):
            return "memory_pressure_node"
        if root.detector in SYMPTOMS and root.service:
            downstream = self.graph.downstream_closure(root.service)
            if any(s.service in downstream for s in cluster):
                return "cascade_protection"
        return PLAYBOOK_BY_DETECTOR.get(root.detector, "")

    def summary_line(self, root: Sig, params: Dict[str, Any]) -> str:
        """The DIAGNOSE line: top consumer, recent deploy, growth, conclusion."""
        parts = []
        if params.get("pod") and params.get("top_consumer_bytes"):
            limit = " of its %s limit" % gigabytes(params["top_consumer_limit_bytes"]) \
                if params.get("top_consumer_limit_bytes") else ""
            parts.append("top consumer %s (%s%s)" % (
                params["pod"], gigabytes(params["top_consumer_bytes"]), limit))
        if params.get("recent_deploy"):
            parts.append("recent %s %s %s, %d minutes earlier" % (
                "configuration change of" if params.get("config_change") else "deploy",
                params["service"], params["version"], params["deployed_minutes_before_onset"]))
        leak_like = root.detector == "memory_leak"
        if params.get("linear_growth") or (leak_like and params.get("growing")):
            since = "since the deploy" if params.get("recent_deploy") else "over the last hour"
            parts.append("%smemory growth %s (likely a leak in %s)" % (
                "linear " if params.get("linear_growth") else "", since,
                params.get("version") or params.get("service")))
        else:
            parts.append("root cause: %s" % root.summary)
        return "; ".join(parts)

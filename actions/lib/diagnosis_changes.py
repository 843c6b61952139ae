"""Diagnosis rule 6: change detection (a deploy or configuration change of the root's service
shortly before onset is evidence, and breaks ties between candidate roots)."""
from typing import Any, Dict, List, Optional

from lib import clock
from lib.diagnosis_base import (CAUSE_RANK, CHANGE_WINDOW_S, LOG, Sig)


class ChangeDetection(object):
    """The change-detection part of the Diagnoser (deploy history, cached per service)."""

    def by_change(self, cluster: List[Sig], onset: float) -> Optional[Sig]:
        """Rule 6 as a tie-breaker: the one service changed shortly before onset."""
        changed = [s for s in cluster if s.service and
                   self.recent_change(s.target["namespace"], s.service, onset)]
        services = {s.service for s in changed}
        if len(services) == 1 and len(cluster) > 1:
            root = sorted(changed, key=lambda s: (CAUSE_RANK.get(s.detector, 9), s.first))[0]
            self.reasoning.append("%s is the only affected service changed before onset" %
                                  root.service)
            return root
        return None

    def prefer_changed(self, services: List[str], by_service: Dict[str, List[Sig]],
                       onset: float) -> str:
        changed = [s for s in services if self.recent_change(
            by_service[s][0].target["namespace"], s, onset)]
        pool = changed or services
        return min(pool, key=lambda s: min(x.first for x in by_service[s]))

    def history(self, namespace: str, service: str) -> List[Dict[str, Any]]:
        key = (namespace, service)
        if key not in self._history:
            try:
                self._history[key] = self.facts.deploy_history(namespace, service) \
                    if namespace and service else []
            except Exception as exc:
                LOG.warning("deploy history of %s/%s unavailable: %s", namespace, service, exc)
                self.reasoning.append("deploy history of %s unavailable (%s)" % (service, exc))
                self._history[key] = []
        return self._history[key]

    def current_version(self, namespace: str, service: str) -> str:
        revisions = self.history(namespace, service)
        current = next((r for r in revisions if r.get("current")), revisions[0]
                       if revisions else None)
        return current["version"] if current else ""

    def recent_change(self, namespace: str, service: str, onset: float
                      ) -> Optional[Dict[str, Any]]:
        """Rule 6: the current revision rolled out within CHANGE_WINDOW_S before onset."""
        revisions = self.history(namespace, service)
        if not revisions:
            return None
        current = next((r for r in revisions if r.get("current")), revisions[0])
        at = float(current["created_epoch"])
        if not onset - CHANGE_WINDOW_S <= at <= onset + 60:
            return None
        previous = next((r for r in revisions if r["revision"] < current["revision"]), None)
        return {"service": service, "namespace": namespace, "version": current["version"],
                "revision": current["revision"], "at": at,
                "minutes_before": int(round((onset - at) / 60.0)),
                "previous_version": previous["version"] if previous else "",
                "previous_revision": previous["revision"] if previous else 0}

    def change_params(self, change: Optional[Dict[str, Any]], onset: float) -> Dict[str, Any]:
        if not change:
            return {"recent_deploy": False}
        self.confidence += 0.15
        config_only = change["version"] == change["previous_version"]
        if config_only:
            self.reasoning.append(
                "configuration of %s changed %d min before onset (revision %d, same image %s)"
                % (change["service"], change["minutes_before"], change["revision"],
                   change["version"]))
        else:
            prev = " (previous %s)" % change["previous_version"] \
                if change["previous_version"] else ""
            self.reasoning.append("%s %s deployed %d min before onset%s" % (
                change["service"], change["version"], change["minutes_before"], prev))
        return {"recent_deploy": True, "config_change": config_only, "version": change["version"],
                "previous_version": change["previous_version"],
                "previous_revision": change["previous_revision"],
                "deployed_at": clock.isoformat(change["at"]),
                "deployed_minutes_before_onset": change["minutes_before"]}

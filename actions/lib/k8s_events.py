"""Audit Events the pack writes next to what it changes (reportingComponent: self-healing)."""
import logging
from typing import Any, Optional

from lib import clock

LOG = logging.getLogger(__name__)

REPORTER = "self-healing"


def record_event(kube: Any, kind: str, namespace: Optional[str], name: str, reason: str,
                 message: str, incident_id: Optional[str] = None) -> bool:
    """Create a core/v1 Event about an object; best effort (False when it could not)."""
    from kubernetes import client

    ns = namespace or "default"
    stamp = clock.utcnow()
    if incident_id:
        message = "%s (incident %s)" % (message, incident_id)
    api_version = "apps/v1" if kind in ("Deployment", "ReplicaSet") else "v1"
    body = client.CoreV1Event(
        metadata=client.V1ObjectMeta(
            generate_name="self-healing-%s-" % name[:40].lower().rstrip("-."), namespace=ns,
            annotations={"self-healing.io/incident": incident_id} if incident_id else None),
        involved_object=client.V1ObjectReference(
            kind=kind, name=name, namespace=namespace or None, api_version=api_version),
        reason=reason, message=message[:1000], type="Normal",
        reporting_component=REPORTER, reporting_instance=REPORTER,
        source=client.V1EventSource(component=REPORTER),
        first_timestamp=stamp, last_timestamp=stamp, count=1)
    try:
        kube.call(kube.core.create_namespaced_event, ns, body, retry=False)
        return True
    except Exception as error:  # an audit Event never fails the remediation itself
        LOG.warning("could not record Event %s on %s/%s: %s", reason, kind, name, error)
        return False

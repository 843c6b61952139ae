"""Service remediation: Istio circuit breakers (DestinationRule) and DB pool sizes (ConfigMap).

Pool size: the ConfigMap and key come from the pack config (`metric_sources.pool_configmap`,
default `<service>-db-pool` / `maximumPoolSize`); a ConfigMap that does not exist, or lacks the
key, is refused before anything is changed.

Circuit breaker: a DestinationRule `sh-cb-<service>-<upstream>` in the caller's namespace,
scoped to the caller's pods (`workloadSelector: app=<service>`), host = the upstream's FQDN,
with `outlierDetection` (consecutive 5xx errors, interval, ejection time) and `connectionPool`
limits. If a DestinationRule for that host already exists and is not the pack's, the pack
patches its trafficPolicy and keeps the previous spec (JSON) in an annotation, so revert
restores it; what the pack created, revert deletes.
"""
import json
import math
from typing import Any, Dict, Optional

from lib import clock
from lib.base_action import ANN_INCIDENT, ANNOTATION_PREFIX, HEALER, ActionInputError
from lib.conflicts import retry_on_conflict
from lib.kube import KubeError

DR_GROUP = "networking.istio.io"
DR_VERSION = "v1beta1"
DR_PLURAL = "destinationrules"
ANN_MANAGED = ANNOTATION_PREFIX + "managed-by"
ANN_CREATED = ANNOTATION_PREFIX + "created-by-healer"
ANN_PREVIOUS_SPEC = ANNOTATION_PREFIX + "previous-spec"
ANN_FALLBACK = ANNOTATION_PREFIX + "fallback"
ANN_TIMEOUT_MS = ANNOTATION_PREFIX + "timeout-ms"
ANN_POOL_ORIGINAL = ANNOTATION_PREFIX + "pool-original"
ANN_POOL_REVERT_AT = ANNOTATION_PREFIX + "pool-revert-at"
POOL_KEY = "maximumPoolSize"


def upstream_host(upstream: str, namespace: str) -> str:
    return upstream if "." in upstream else "%s.%s.svc.cluster.local" % (upstream, namespace)


def breaker_name(service: str, upstream: str) -> str:
    name = "sh-cb-%s-%s" % (service, upstream.split(".")[0])
    return name[:253].lower()


def breaker_policy(consecutive_errors: int, timeout_ms: int, interval: str,
                   base_ejection_time: str, max_ejection_percent: int, max_connections: int,
                   max_pending_requests: int) -> Dict[str, Any]:
    """The trafficPolicy the pack applies (outlier detection + connection-pool limits)."""
    return {
        "connectionPool": {
            "tcp": {"maxConnections": max_connections, "connectTimeout": "%dms" % timeout_ms},
            "http": {"http1MaxPendingRequests": max_pending_requests,
                     "maxRequestsPerConnection": 0}},
        "outlierDetection": {
            "consecutive5xxErrors": consecutive_errors, "interval": interval,
            "baseEjectionTime": base_ejection_time, "maxEjectionPercent": max_ejection_percent}}


def _custom(kube: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    fn = getattr(kube.custom, method)
    return kube.call(fn, DR_GROUP, DR_VERSION, *args, **kwargs)


def _get_dr(kube: Any, namespace: str, name: str) -> Optional[Dict[str, Any]]:
    try:
        return _custom(kube, "get_namespaced_custom_object", namespace, DR_PLURAL, name)
    except KubeError as error:
        if error.status == 404:
            return None
        raise


def _find_foreign_dr(kube: Any, namespace: str, host: str, own: str) -> Optional[Dict[str, Any]]:
    """Another DestinationRule for the same host in the namespace (not the pack's), if any."""
    items = _custom(kube, "list_namespaced_custom_object", namespace, DR_PLURAL).get("items", [])
    for item in items:
        if item["metadata"]["name"] != own and item.get("spec", {}).get("host") == host:
            return item
    return None


def apply_breaker(kube: Any, namespace: str, service: str, upstream: str,
                  policy: Dict[str, Any], timeout_ms: int, fallback: str, incident_id: str,
                  dry_run: bool, upstream_namespace: str = "") -> Dict[str, Any]:
    """Create or update the circuit breaker; idempotent (same policy -> changed false)."""
    host = upstream_host(upstream, upstream_namespace or namespace)
    name = breaker_name(service, upstream)
    annotations = {ANN_MANAGED: HEALER, ANN_FALLBACK: fallback, ANN_TIMEOUT_MS: str(timeout_ms)}
    if incident_id:
        annotations[ANN_INCIDENT] = incident_id

    def attempt() -> Dict[str, Any]:
        own = _get_dr(kube, namespace, name)
        foreign = None if own else _find_foreign_dr(kube, namespace, host, name)
        base = {"namespace": namespace, "host": host, "policy": policy}
        if own is not None:
            if own.get("spec", {}).get("trafficPolicy") == policy:
                return dict(base, name=name, changed=False, mode="created",
                            would="nothing: circuit breaker %s already configured" % name)
            base.update(name=name, mode="created",
                        would="update circuit breaker %s for %s" % (name, host))
            if not dry_run:
                own["spec"]["trafficPolicy"] = policy
                own["metadata"].setdefault("annotations", {}).update(annotations)
                _custom(kube, "replace_namespaced_custom_object", namespace, DR_PLURAL, name, own)
            return dict(base, changed=not dry_run)
        if foreign is not None:
            fname = foreign["metadata"]["name"]
            fann = foreign["metadata"].get("annotations") or {}
            current = foreign.get("spec", {}).get("trafficPolicy") or {}
            merged = dict(current, **policy)
            if current == merged and fann.get(ANN_MANAGED) == HEALER:
                return dict(base, name=fname, changed=False, mode="patched",
                            would="nothing: circuit breaker already set on %s" % fname)
            base.update(name=fname, mode="patched",
                        would="add outlier detection to existing DestinationRule %s" % fname)
            if not dry_run:
                if ANN_PREVIOUS_SPEC not in fann:
                    annotations[ANN_PREVIOUS_SPEC] = json.dumps(foreign.get("spec", {}),
                                                                sort_keys=True)
                foreign["spec"]["trafficPolicy"] = merged
                foreign["metadata"].setdefault("annotations", {}).update(annotations)
                _custom(kube, "replace_namespaced_custom_object", namespace, DR_PLURAL, fname,
                        foreign)
            return dict(base, changed=not dry_run)
        base.update(name=name, mode="created",
                    would="create circuit breaker %s: %s -> %s" % (name, service, host))
        if not dry_run:
            body = {"apiVersion": "%s/%s" % (DR_GROUP, DR_VERSION), "kind": "DestinationRule",
                    "metadata": {"name": name, "namespace": namespace,
                                 "labels": {ANN_MANAGED: HEALER},
                                 "annotations": dict(annotations, **{ANN_CREATED: "true"})},
                    "spec": {"host": host, "trafficPolicy": policy,
                             "workloadSelector": {"matchLabels": {"app": service}}}}
            _custom(kube, "create_namespaced_custom_object", namespace, DR_PLURAL, body)
        return dict(base, changed=not dry_run)

    return retry_on_conflict(attempt)


def revert_breaker(kube: Any, namespace: str, service: str, upstream: str, dry_run: bool,
                   upstream_namespace: str = "") -> Dict[str, Any]:
    """Delete the pack's DestinationRule, or restore the spec the pack changed."""
    host = upstream_host(upstream, upstream_namespace or namespace)
    name = breaker_name(service, upstream)

    def attempt() -> Dict[str, Any]:
        own = _get_dr(kube, namespace, name)
        if own is not None:
            would = "delete circuit breaker %s" % name
            if not dry_run:
                try:
                    _custom(kube, "delete_namespaced_custom_object", namespace, DR_PLURAL, name)
                except KubeError as error:
                    if error.status != 404:
                        raise
            return {"name": name, "host": host, "mode": "deleted", "changed": not dry_run,
                    "would": would}
        foreign = _find_foreign_dr(kube, namespace, host, name)
        fann = (foreign or {}).get("metadata", {}).get("annotations") or {}
        if foreign is None or ANN_PREVIOUS_SPEC not in fann:
            return {"name": name, "host": host, "mode": "none", "changed": False,
                    "would": "nothing: no circuit breaker of the pack for %s" % host}
        fname = foreign["metadata"]["name"]
        if not dry_run:
            foreign["spec"] = json.loads(fann[ANN_PREVIOUS_SPEC])
            for key in (ANN_PREVIOUS_SPEC, ANN_MANAGED, ANN_FALLBACK, ANN_TIMEOUT_MS,
                        ANN_INCIDENT):
                foreign["metadata"]["annotations"].pop(key, None)
            _custom(kube, "replace_namespaced_custom_object", namespace, DR_PLURAL, fname,
                    foreign)
        return {"name": fname, "host": host, "mode": "restored", "changed": not dry_run,
                "would": "restore the previous spec of DestinationRule %s" % fname}

    return retry_on_conflict(attempt)


def pool_configmap_name(service: str) -> str:
    """The default (convention) name; the configured one: metric_presets.pool_configmap."""
    return "%s-db-pool" % service


def raise_pool(kube: Any, namespace: str, service: str, multiplier: float, duration_s: float,
               incident_id: str, dry_run: bool, name: str = "",
               key: str = POOL_KEY) -> Dict[str, Any]:
    """Multiply the pool size under `key` of ConfigMap `name` (default `<service>-db-pool`,
    `maximumPoolSize`); keep the original in an annotation (idempotent). A missing ConfigMap
    is refused (KubeError 404 saying so), nothing is changed."""
    if multiplier <= 1.0:
        raise ActionInputError("multiplier: must be > 1.0, got %s" % multiplier)
    name = name or pool_configmap_name(service)
    POOL_KEY = key  # noqa: N806 - the configured key, under the module constant's name

    def attempt() -> Dict[str, Any]:
        try:
            cm = kube.call(kube.core.read_namespaced_config_map, name, namespace)
        except KubeError as error:
            if error.status == 404:
                raise KubeError(404, "NotFound", (
                    "configmap %s/%s does not exist: the pool of %s cannot be resized there; "
                    "nothing was changed (metric_sources.pool_configmap.name names the "
                    "ConfigMap holding the pool size)" % (namespace, name, service))) from None
            raise
        data = dict(cm.data or {})
        ann = dict(cm.metadata.annotations or {})
        if POOL_KEY not in data:
            raise ActionInputError("configmap %s/%s has no key %s" % (namespace, name, POOL_KEY))
        try:
            current = int(str(data[POOL_KEY]).strip())
        except ValueError:
            raise ActionInputError("configmap %s/%s: %s is not an integer: %r" % (
                namespace, name, POOL_KEY, data[POOL_KEY])) from None
        base = {"namespace": namespace, "configmap": name, "key": POOL_KEY}
        if ANN_POOL_ORIGINAL in ann:
            return dict(base, changed=False, original=int(ann[ANN_POOL_ORIGINAL]),
                        value=current, revert_at=ann.get(ANN_POOL_REVERT_AT, ""),
                        would="nothing: pool already raised (original %s)" %
                        ann[ANN_POOL_ORIGINAL])
        new = int(math.ceil(current * multiplier))
        revert_at = clock.isoformat(clock.now() + duration_s)
        result = dict(base, original=current, value=new, revert_at=revert_at,
                      would="raise %s/%s %s from %d to %d until %s" % (
                          namespace, name, POOL_KEY, current, new, revert_at))
        if dry_run:
            return dict(result, changed=False)
        new_ann = {ANN_POOL_ORIGINAL: str(current), ANN_POOL_REVERT_AT: revert_at,
                   ANN_MANAGED: HEALER}
        if incident_id:
            new_ann[ANN_INCIDENT] = incident_id
        body = {"metadata": {"annotations": new_ann, "resourceVersion":
                             cm.metadata.resource_version},
                "data": {POOL_KEY: str(new)}}
        kube.call(kube.core.patch_namespaced_config_map, name, namespace, body)
        return dict(result, changed=True)

    return retry_on_conflict(attempt)


def restore_pool(kube: Any, namespace: str, name: str, original: int, applied: int,
                 dry_run: bool, key: str = POOL_KEY) -> Dict[str, Any]:
    """Put the pool size (`key`) back to `original` unless someone else changed it since."""
    POOL_KEY = key  # noqa: N806 - the key the raise used

    def attempt() -> Dict[str, Any]:
        try:
            cm = kube.call(kube.core.read_namespaced_config_map, name, namespace)
        except KubeError as error:
            if error.status == 404:
                return {"changed": False, "status": "gone",
                        "would": "nothing: configmap %s/%s is gone" % (namespace, name)}
            raise
        current = str((cm.data or {}).get(POOL_KEY, "")).strip()
        clear = {ANN_POOL_ORIGINAL: None, ANN_POOL_REVERT_AT: None, ANN_MANAGED: None,
                 ANN_INCIDENT: None}
        if current == str(original):
            status, would, body = "already_reverted", "nothing: already at %d" % original, None
        elif current != str(applied):
            status = "changed_by_someone_else"
            would = "leave %s at %s (the pack set %d; someone changed it)" % (
                POOL_KEY, current, applied)
            body = {"metadata": {"annotations": clear}}
        else:
            status, would = "reverted", "restore %s/%s %s to %d" % (namespace, name, POOL_KEY,
                                                                     original)
            body = {"metadata": {"annotations": clear,
                                 "resourceVersion": cm.metadata.resource_version},
                    "data": {POOL_KEY: str(original)}}
        if body is not None and not dry_run:
            kube.call(kube.core.patch_namespaced_config_map, name, namespace, body)
        return {"changed": status == "reverted" and not dry_run, "status": status,
                "would": would, "value_before": current}

    return retry_on_conflict(attempt)

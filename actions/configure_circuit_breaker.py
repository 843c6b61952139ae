"""Circuit breaker from a service to its upstream: Istio DestinationRule outlier detection and
connection-pool limits (revert=true removes it or restores the previous spec)."""
from lib import k8s_services
from lib.base_action import ActionInputError, SelfHealingAction


class ConfigureCircuitBreaker(SelfHealingAction):
    def execute(self, namespace: str = "", service: str = "", upstream: str = "",
                upstream_namespace: str = "", consecutive_errors: int = 3,
                timeout_ms: int = 5000, interval: str = "10s", base_ejection_time: str = "30s",
                max_ejection_percent: int = 100, max_connections: int = 100,
                max_pending_requests: int = 50, fallback: str = "cached_response",
                revert: bool = False, incident_id: str = "", dry_run: bool = False):
        self.require_target(namespace, service=service, upstream=upstream)
        if revert:
            result = k8s_services.revert_breaker(self.kube, namespace, service, upstream,
                                                 dry_run, upstream_namespace)
            reason = "CircuitBreakerRemoved"
        else:
            if int(consecutive_errors) < 1:
                raise ActionInputError("consecutive_errors: must be >= 1")
            policy = k8s_services.breaker_policy(
                int(consecutive_errors), int(timeout_ms), interval, base_ejection_time,
                int(max_ejection_percent), int(max_connections), int(max_pending_requests))
            result = k8s_services.apply_breaker(self.kube, namespace, service, upstream,
                                                policy, int(timeout_ms), fallback,
                                                incident_id, dry_run, upstream_namespace)
            reason = "CircuitBreakerEnabled"
        revert_params = None if revert else {
            "namespace": namespace, "service": service, "upstream": upstream,
            "upstream_namespace": upstream_namespace, "revert": True}
        return self.finish(result, dry_run, ("Deployment", namespace, service, reason,
                                             "self-healing: {would}"),
                           service=service, upstream=upstream, fallback=fallback,
                           revert={"action": "self_healing.configure_circuit_breaker",
                                   "parameters": revert_params} if revert_params else None,
                           incident_id=incident_id, reverted=bool(revert))

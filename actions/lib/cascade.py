"""Who a degraded service's slowness or errors can reach: its callers in the dependency graph.

`dependents` are the direct callers (cascade protection puts a circuit breaker on each);
`downstream` is every transitive caller. When the direct callers have callers of their own the
degradation cascades through a chain, and breakers on the first hop contain it for the whole
chain; when they are edge services there is no chain to contain: the root's own degradation is
what users see, and it needs a human (the playbooks escalate after protecting).
"""
from typing import Any, Dict, List


def callers(graph: Any, service: str) -> Dict[str, List[str]]:
    """{"dependents": direct callers, "downstream": every transitive caller} of `service`."""
    if not service:
        return {"dependents": [], "downstream": []}
    return {"dependents": sorted(graph.dependents(service)),
            "downstream": sorted(graph.downstream_closure(service) - {service})}

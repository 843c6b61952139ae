"""deploy/rbac.yaml is sufficient and minimal: every call the pack makes is granted, and every
grant is used by some call the pack makes.

The twin authorizes the pack's ServiceAccount against deploy/'s ClusterRole exactly as the real
API server would and logs each request. The pack is driven through the local engine over the
scenarios that exercise its playbooks, and then each building-block action that no playbook
reaches in those scenarios is called once directly (creating and reverting a circuit breaker,
draining, restarting a pod, a rollout wait, scaling the node pool, ...).
"""
import pytest

pytestmark = [pytest.mark.orquesta, pytest.mark.twin]

SCENARIOS = ("seed-0317-memory-leak", "node-memory-pressure", "crash-loop-bad-deploy",
             "cascading-slowdown-abc", "node-not-ready")
TOUR_WORLD = "connection-pool-exhaustion"


def _tour(world, engine):
    """Call each action the scenarios may not reach, with real targets from the twin."""
    store = world.store
    pods = [p for p in store.list("pods")[0] if p["metadata"].get("namespace") == "production"]
    deployments = store.list("deployments")[0]
    dep = deployments[0]["metadata"]
    pod = pods[0]["metadata"]
    node = pods[-1]["spec"].get("nodeName")
    pools = store.list("machinedeployments")[0]
    pool_maps = [c["metadata"] for c in store.list("configmaps")[0]
                 if c["metadata"]["name"].endswith("-db-pool")]
    upstream = deployments[-1]["metadata"]["name"]
    run = engine.runner.run
    calls = [
        ("capture_logs", {"namespace": pod["namespace"], "pod": pod["name"]}),
        ("restart_pod", {"namespace": pod["namespace"], "pod": pod["name"], "backoff_s": 1}),
        ("check_recent_deploys", {"namespace": dep["namespace"], "deployment": dep["name"]}),
        ("scale_deployment", {"namespace": dep["namespace"], "deployment": dep["name"],
                              "delta": 1}),
        ("restart_deployment", {"namespace": dep["namespace"], "deployment": dep["name"]}),
        ("wait_for_rollout", {"namespace": dep["namespace"], "deployment": dep["name"],
                              "timeout_s": 120}),
        ("rollback_deployment", {"namespace": dep["namespace"], "deployment": dep["name"]}),
        ("configure_circuit_breaker", {"namespace": dep["namespace"], "service": dep["name"],
                                       "upstream": upstream}),
        ("configure_circuit_breaker", {"namespace": dep["namespace"], "service": dep["name"],
                                       "upstream": upstream, "consecutive_errors": 5}),
        ("configure_circuit_breaker", {"namespace": dep["namespace"], "service": dep["name"],
                                       "upstream": upstream, "revert": True}),
        ("identify_top_memory_pods", {"node": node}),
        ("cordon_node", {"node": node}),
        ("drain_node", {"node": node, "max_evictions": 2, "backoff_s": 1, "timeout_s": 60}),
        ("uncordon_node", {"node": node}),
        ("revert_expired_changes", {"include_pending": True}),
    ]
    for cm in pool_maps[:1]:
        calls.insert(0, ("increase_pool_size_temporarily", {
            "namespace": cm["namespace"], "service": cm["name"][:-len("-db-pool")],
            "duration_minutes": 1}))
    if pools:
        calls.append(("scale_node_pool", {"pool": pools[0]["metadata"]["name"],
                                          "namespace": pools[0]["metadata"]["namespace"],
                                          "delta": 1}))
    failed = []
    for name, params in calls:
        execution = run("self_healing." + name, params)
        if execution.status != "succeeded":
            failed.append((name, execution.result))
    return failed


@pytest.fixture(scope="module")
def usage():
    from engine.pack import Pack
    from harness.replay import run_scenario
    from engine.runner import Engine
    from twin.world import World

    used, denied = set(), []
    granted = None
    for name in SCENARIOS:
        result = run_scenario(name, mode="autonomous", seed=0)
        authz = result.world.authorizer
        used |= authz.used_permissions()
        denied += authz.denied()
        granted = authz.granted_rules()
    world = World.from_scenario(TOUR_WORLD, seed=0)
    world.start()
    engine = Engine(world, Pack(), mode="autonomous")
    engine.start()
    try:
        tour_failures = _tour(world, engine)
    finally:
        engine.stop()
        world.stop()
    used |= world.authorizer.used_permissions()
    denied += world.authorizer.denied()
    unused = world.authorizer.unused_grants() - used
    return {"used": used, "denied": denied, "unused": unused, "granted": granted,
            "tour_failures": tour_failures}


def test_every_call_the_pack_makes_is_granted(usage):
    denied = sorted({(d["verb"], d["group"], d["resource"], d.get("subresource") or "")
                     for d in usage["denied"]})
    assert denied == [], "calls the ClusterRole does not grant (verb, group, resource, sub)"


def test_every_grant_is_used(usage):
    assert sorted(usage["unused"]) == []


def test_the_building_block_tour_ran(usage):
    assert usage["tour_failures"] == []
    assert usage["used"], "the pack made no API call at all"

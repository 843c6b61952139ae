"""Ground truth of the generated cascade and connection-pool families follows their facts."""
from scenarios.families import generate


def _services(raw):
    return {s["name"]: s for s in raw["topology"]["services"]}


def test_a_cascade_is_fixable_only_through_a_chain_of_callers():
    depths = set()
    for seed in range(40):
        raw = generate("cascade", seed)
        truth = raw["ground_truth"]
        services = _services(raw)
        deepest = truth["cause_service"]
        callers = [n for n, s in services.items() if deepest in (s.get("depends_on") or [])]
        callers_of_callers = [n for n, s in services.items()
                              if set(s.get("depends_on") or []) & set(callers)]
        depths.add(truth["depth"])
        # a chain (callers of callers) is what breakers on the first hop contain
        assert truth["expected_outcome"] == ("remediate" if callers_of_callers else "escalate")
        assert (truth["depth"] >= 3) == bool(callers_of_callers)
    assert depths == {2, 3, 4}


def test_the_pool_family_needs_what_it_draws_counting_the_callers_requests():
    for seed in range(40):
        raw = generate("connection_pool", seed)
        services = _services(raw)
        fault = raw["faults"][0]
        svc = services[fault["service"]]
        # the twin serves a service's own requests plus its callers'
        total = svc["traffic"]["rps"] + sum(
            s["traffic"]["rps"] for s in services.values()
            if svc["name"] in (s.get("depends_on") or []))
        pool = svc["db_pool"]["max"]
        per_pod = total / svc["replicas"]
        before = per_pod * svc["db_pool"]["query_ms"] / 1000.0
        after = per_pod * fault["query_ms"] / 1000.0
        assert before < 0.65 * pool
        # exhausted after the onset, and within reach of the playbook's x1.5 pool
        assert pool * 1.1 < after < pool * 1.4

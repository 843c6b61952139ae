"""Each playbook's success path with the real actions: the engine replays the playbook's twin
scenario (real sensors, rules, Kubernetes API, Prometheus, NATS) and orquesta conducts the
workflow; the run must reach the scenario's expected outcome and close every incident."""
import pytest

pytestmark = [pytest.mark.orquesta, pytest.mark.twin]

# scenario -> playbooks that must have run (the root cause's playbook and any hand-over)
SCENARIOS = {
    "crash-loop-bad-deploy": {"pod_crash_loop"},
    "memory-leak-slow": {"memory_leak"},
    "node-memory-pressure": {"memory_pressure_node"},
    "disk-filling": {"disk_pressure"},
    "connection-pool-exhaustion": {"connection_pool_exhaustion"},
    "cpu-throttling": {"cpu_throttling"},
    "error-rate-spike": {"error_rate", "cascade_protection"},
    "cascading-slowdown-abc": {"cascade_protection"},
    "latency-anomaly": {"latency_anomaly"},
    "node-not-ready": {"node_not_ready"},
    "certificate-expiry": {"certificate_expiry"},
}
TERMINAL = ("resolved", "escalated", "failed")


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_scenario_reaches_its_expected_outcome(scenario):
    from harness.replay import run_scenario

    result = run_scenario(scenario)
    assert result.ok, (result.assessment, [(i["id"], i["status"]) for i in result.incidents])
    ran = {e["ref"].split(".", 1)[1] for e in result.executions
           if e["runner_type"] == "orquesta"}
    assert SCENARIOS[scenario] <= ran, sorted(ran)
    assert all(i["status"] in TERMINAL for i in result.incidents)
    failed = [e["ref"] for e in result.executions if e["runner_type"] == "orquesta"
              and e["status"] != "succeeded"]
    assert not failed, failed

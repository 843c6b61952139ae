"""Detectors that fit other stacks, end to end: the twin emits one preset's metric names
(scenario `metrics:`), the pack is configured for the same preset (`metric_sources`), and the
shipped scenario still ends with a metric-verified recovery; configured for the wrong stack,
the pack changes nothing and reports the detector blind."""
import os

import pytest
import yaml

pytestmark = [pytest.mark.orquesta, pytest.mark.twin]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# preset -> a metric name of that preset the verification query must read
HTTP = {"istio": "istio_requests_total", "linkerd": "response_total",
        "ingress-nginx": "nginx_ingress_controller_requests",
        "otel": "http_server_request_duration_seconds_count"}
POOL = {"hikaricp": "hikaricp_connections_pending",
        "otel": "db_client_connection_pending_requests"}


def scenario_with(tmp_path, name, metrics):
    with open(os.path.join(ROOT, "scenarios", name + ".yaml")) as handle:
        raw = yaml.safe_load(handle)
    raw["metrics"] = metrics
    path = tmp_path / (name + ".yaml")
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return str(path)


def verified_waits(result):
    return [e for e in result.executions_of("wait_for_condition")
            if e["status"] == "succeeded" and (e.get("result") or {}).get("result", {}).get("met")]


def ends(result):
    from harness import outcome
    return outcome.incident_ends(result.incidents, result.executions, result.ended_at)


@pytest.mark.parametrize("preset", sorted(HTTP))
def test_error_rate_spike_on_each_http_preset(tmp_path, preset):
    from harness.replay import run_scenario

    result = run_scenario(scenario_with(tmp_path, "error-rate-spike", {"http": preset}),
                          config_overrides={"metric_sources": {"http_preset": preset}})
    assert result.ok, (result.assessment, [(i["id"], i["status"]) for i in result.incidents])
    fired = [t for t in result.signal_triggers() if t["type"] == "self_healing.error_rate"]
    assert any(t["payload"]["target"]["name"] == "cart" for t in fired), fired
    assert result.executions_of("rollback_deployment")
    waits = verified_waits(result)
    assert waits and all(HTTP[preset] in w["parameters"]["query"] for w in waits), [
        w["parameters"]["query"] for w in waits]
    rows = ends(result)
    assert any(r["how"] == "resolved_verified" for r in rows), rows
    assert all(r["ok"] for r in rows), rows


@pytest.mark.parametrize("preset", sorted(POOL))
def test_connection_pool_exhaustion_on_each_pool_preset(tmp_path, preset):
    from harness.replay import run_scenario

    result = run_scenario(
        scenario_with(tmp_path, "connection-pool-exhaustion", {"pool": preset}),
        config_overrides={"metric_sources": {"pool_preset": preset}})
    assert result.ok, (result.assessment, [(i["id"], i["status"]) for i in result.incidents])
    fired = [t for t in result.signal_triggers()
             if t["type"] == "self_healing.connection_pool"]
    assert any(t["payload"]["target"]["name"] == "orders-api" for t in fired), fired
    assert result.executions_of("increase_pool_size_temporarily")
    waits = verified_waits(result)
    assert any(POOL[preset] in w["parameters"]["query"] for w in waits), [
        w["parameters"]["query"] for w in waits]
    assert any(r["how"] == "resolved_verified" for r in ends(result)), ends(result)


def test_wrong_stack_configured_changes_nothing_and_reports_blind(tmp_path):
    from harness.replay import run_scenario

    # the cluster runs Linkerd, the pack is left on its Istio default
    result = run_scenario(scenario_with(tmp_path, "error-rate-spike", {"http": "linkerd"}),
                          config_overrides={"metric_sources": {"http_preset": "istio"}})
    assert not [t for t in result.signal_triggers() if t["type"] in (
        "self_healing.error_rate", "self_healing.latency_anomaly")]
    assert not result.executions_of("rollback_deployment")
    assert not result.assessment["mutations"], result.assessment
    degraded = [t["payload"] for t in result.triggers
                if t["type"] == "self_healing.sensor_degraded"]
    blind = [d for d in degraded if "blind" in d["error"] and "linkerd" in d["error"]]
    assert {d["detector"] for d in blind} & {"error_rate", "latency_anomaly"}, degraded
    # one outage for as long as the pack is blind, not a new announcement every check
    assert len(blind) == 1, degraded


def test_pool_remedy_on_a_configured_configmap(tmp_path):
    """The service keeps its pool size elsewhere than `<service>-db-pool`: configured, the pack
    raises that ConfigMap and the recovery is verified."""
    from harness.replay import run_scenario

    path = scenario_with(tmp_path, "connection-pool-exhaustion", {"pool": "otel"})
    with open(path) as handle:
        raw = yaml.safe_load(handle)
    for svc in raw["topology"]["services"]:
        if svc.get("db_pool"):
            svc["db_pool"].update(configmap=svc["name"] + "-hikari", key="hikari.maxPoolSize")
    with open(path, "w") as handle:
        yaml.safe_dump(raw, handle, sort_keys=False)
    result = run_scenario(path, config_overrides={"metric_sources": {
        "pool_preset": "otel",
        "pool_configmap": {"name": "$service-hikari", "key": "hikari.maxPoolSize"}}})
    assert result.ok, (result.assessment, [(i["id"], i["status"]) for i in result.incidents])
    raised = [e for e in result.executions_of("increase_pool_size_temporarily")
              if e["status"] == "succeeded"]
    assert raised and raised[0]["result"]["result"]["configmap"] == "orders-api-hikari"
    assert any(r["how"] == "resolved_verified" for r in ends(result)), ends(result)

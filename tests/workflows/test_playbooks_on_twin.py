"""The seed's incident end to end on the twin: the engine runs the real sensors, rules and
actions (official Kubernetes client against the twin's API, real Prometheus) and orquesta
conducts memory_pressure_node through its success, escalation (approved / denied), dry-run and
rollback paths. Each run replays ~10 virtual minutes in a few real seconds."""
import pytest

pytestmark = [pytest.mark.orquesta, pytest.mark.twin]

SCENARIO = "seed-0317-memory-leak"
NODE = "gke-prod-pool-1-abc123"


def replay(**kwargs):
    from harness.replay import run_scenario
    return run_scenario(SCENARIO, **kwargs)


def only_incident(result):
    assert len(result.incidents) == 1, [i.get("id") for i in result.incidents]
    return result.incidents[0]


def first_incident(result):
    return sorted(result.incidents, key=lambda i: i["created_at"])[0]


def types(incident):
    return [entry["type"] for entry in incident["timeline"]]


def node_cordoned(result):
    node = result.world.store.get("nodes", None, NODE)
    return bool((node.get("spec") or {}).get("unschedulable"))


def worker_image(result):
    dep = result.world.store.get("deployments", "production", "analytics-worker")
    return dep["spec"]["template"]["spec"]["containers"][0]["image"]


def test_seed_story_heals_without_a_human():
    result = replay()
    incident = only_incident(result)
    assert result.ok, result.assessment
    assert incident["status"] == "resolved"
    assert types(incident) == ["DETECT", "DIAGNOSE", "PLAN", "EXECUTE", "EXECUTE", "NOTIFY",
                               "VERIFY", "EXECUTE", "TASK"]
    messages = [entry["message"] for entry in incident["timeline"]]
    assert messages[3] == "cordon %s" % NODE
    assert messages[4].startswith("rollout undo deployment/analytics-worker (v1.4.2 -> v1.4.1")
    assert messages[7] == "uncordon %s" % NODE
    assert worker_image(result).endswith(":v1.4.1")
    assert not node_cordoned(result)
    assert not result.inquiries
    assert any("rolled back to v1.4.1" in m["message"] for m in result.chat)


def test_escalated_rollback_approved_by_a_human():
    result = replay(approve_policy="approve", config_overrides={"max_autonomous_risk": "low"})
    incident = only_incident(result)
    assert incident["status"] == "resolved"
    assert [i.status for i in result.inquiries] == ["approved"]
    assert types(incident).count("ESCALATE") >= 2  # waiting, then approved
    assert worker_image(result).endswith(":v1.4.1")
    assert not node_cordoned(result)
    assert any("Approval needed" in m["message"] for m in result.chat)


def test_escalated_rollback_denied_leaves_the_cluster_as_it_was():
    result = replay(approve_policy="deny", config_overrides={"max_autonomous_risk": "low"})
    incident = only_incident(result)
    assert incident["status"] == "escalated"
    assert [i.status for i in result.inquiries] == ["denied"]
    assert worker_image(result).endswith(":v1.4.2")
    assert not node_cordoned(result)
    assert types(incident)[-1] == "ROLLBACK"
    assert not result.executions_of("rollback_deployment")


def test_failed_rollback_uncordons_and_fails_the_incident():
    fault = {"verb": "patch", "resource": "deployments", "name": "analytics-worker",
             "status": 403, "message": "injected: deployments patch forbidden"}
    result = replay(faults=[fault])
    incident = first_incident(result)
    assert incident["status"] == "failed"
    assert types(incident)[-2:] == ["EXECUTE", "ROLLBACK"]
    assert "FAILED" in incident["timeline"][-2]["message"]
    assert worker_image(result).endswith(":v1.4.2")
    rollbacks = result.executions_of("rollback_deployment")
    assert rollbacks and all(e["status"] == "failed" for e in rollbacks)
    # the pressure persists, so later incidents may try again (until the rollback budget or
    # the target cooldown says no); none of them leaves the node cordoned
    assert all(i["status"] in ("failed", "escalated") for i in result.incidents)
    assert not node_cordoned(result)
    assert not any("self-healed" in m["message"] for m in result.chat)


def test_dry_run_reports_the_plan_and_changes_nothing():
    result = replay(mode="dry_run")
    incident = only_incident(result)
    assert incident["status"] == "escalated"
    assert not node_cordoned(result)
    assert worker_image(result).endswith(":v1.4.2")
    executes = [e for e in incident["timeline"] if e["type"] == "EXECUTE"]
    assert executes and all("[dry run]" in e["message"] for e in executes)

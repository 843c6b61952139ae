"""scale_node_pool: a real ansible-runner run of playbooks/scale_node_pool.yml that scales the
twin's Cluster API MachineDeployment through its API server (the pack's kubeconfig)."""
from action_case import TwinActionTestCase
from scale_node_pool import ScaleNodePool


class ScaleNodePoolTest(TwinActionTestCase):
    action_cls = ScaleNodePool
    action_name = "scale_node_pool"
    with_workloads = False

    def md(self):
        return self.twin.store.get("machinedeployments", "default", "pool-1")

    def pool_nodes(self):
        return self.twin.store.list("nodes", label_selector="node-pool=pool-1")[0]

    def test_scales_the_machine_deployment_and_a_node_joins(self):
        ok, result = self.run_action(pool="pool-1", delta=1, incident_id="inc-1")
        self.assertTrue(ok, result.get("error"))
        self.assertEqual(result["status"], "successful")
        self.assertEqual(result["rc"], 0)
        self.assertTrue(result["changed"])
        self.assertEqual((result["previous_replicas"], result["replicas"]), (2, 3))
        self.assertEqual(self.md()["spec"]["replicas"], 3)
        tasks = [e["task"] for e in result["events"]]
        self.assertIn("Patch replicas through the scale subresource", tasks)
        self.assertEqual(self.md()["metadata"]["annotations"]["self-healing.io/scaled-for"],
                         "inc-1:+1")
        self.assertEqual(result["revert"]["parameters"]["delta"], -1)
        self.twin.steps(6)  # the twin provisions the machine after 60 s
        self.assertEqual(len(self.pool_nodes()), 3)
        # the same incident again: the pool is not grown twice
        ok, again = self.run_action(pool="pool-1", delta=1, incident_id="inc-1")
        self.assertTrue(ok)
        self.assertFalse(again["changed"])
        self.assertEqual(self.md()["spec"]["replicas"], 3)
        # the workflow's undo step (same incident, -1) does run
        ok, undo = self.run_action(**dict(result["revert"]["parameters"], incident_id="inc-1"))
        self.assertTrue(ok, undo.get("error"))
        self.assertTrue(undo["changed"])
        self.assertEqual(self.md()["spec"]["replicas"], 2)

    def test_dry_run_uses_check_mode_and_changes_nothing(self):
        ok, result = self.run_action(pool="pool-1", delta=2, max_size=3, dry_run=True)
        self.assertTrue(ok, result.get("error"))
        self.assertFalse(result["changed"])
        self.assertEqual(result["replicas"], 3)  # capped by max_size
        self.assertIn("from 2 to 3", result["would"])
        self.assertEqual(self.md()["spec"]["replicas"], 2)
        skipped = [e["task"] for e in result["events"] if e["event"] == "skipped"]
        self.assertIn("Patch replicas through the scale subresource", skipped)

    def test_api_errors_retried_then_reported(self):
        self.twin.faults.fail("patch", "machinedeployments/scale", status=503, count=1)
        ok, result = self.run_action(pool="pool-1", delta=1)
        self.assertTrue(ok, result.get("error"))
        self.assertEqual(self.md()["spec"]["replicas"], 3)
        self.twin.faults.fail("get", "machinedeployments", status=403)
        ok, failed = self.run_action(pool="pool-1", delta=1)
        self.assertFalse(ok)
        self.assertEqual(failed["status"], "failed")
        self.assertIn("HTTP 403", failed["error"])
        self.assertEqual(self.md()["spec"]["replicas"], 3)

    def test_unknown_pool_and_bad_input(self):
        ok, result = self.run_action(pool="pool-9", delta=1)
        self.assertFalse(ok)
        self.assertIn("HTTP 404", result["error"])
        ok, result = self.run_action(pool="pool-1", delta=1, provider="openstack")
        self.assertFalse(ok)
        self.assertEqual(result["error_type"], "input")

    def test_cloud_provider_without_its_collection_fails_clearly(self):
        ok, result = self.run_action(pool="pool-1", delta=1, provider="gke", cluster="c",
                                     region="europe-west1", project="p")
        self.assertFalse(ok)
        self.assertIn("google.cloud.gcp_container_node_pool_info", result["error"])
        self.assertEqual(self.md()["spec"]["replicas"], 2)


class ScaleNodePoolOverTlsTest(TwinActionTestCase):
    """The playbook verifies the API server's certificate with the kubeconfig's CA."""

    action_cls = ScaleNodePool
    action_name = "scale_node_pool"
    with_workloads = False
    tls = True

    def test_scales_over_https(self):
        self.assertTrue(self.twin.api.url.startswith("https://"))
        ok, result = self.run_action(pool="pool-1", delta=1, incident_id="inc-tls")
        self.assertTrue(ok, result.get("error"))
        self.assertTrue(result["changed"])
        md = self.twin.store.get("machinedeployments", "default", "pool-1")
        self.assertEqual(md["spec"]["replicas"], 3)


class ScaleNodePoolPatchedTest(ScaleNodePoolTest):
    """As StackStorm runs it: in its own eventlet-patched process (select.poll() is gone,
    which pexpect inside ansible-runner needs: the playbook runs in a fresh interpreter)."""

    def run_action(self, config=None, **params):
        return self.run_action_patched(config, **params)


def test_ansible_playbook_is_found_beside_the_importable_ansible(tmp_path, monkeypatch):
    """The genuine layout: st2's interpreter runs the action, the pack virtualenv's site-packages
    (and so ansible and its `ansible-playbook`) sit in front of it on sys.path, not on PATH."""
    import importlib.machinery
    import importlib.util
    import os

    import ansible_run

    package = tmp_path / "lib" / "python3.8" / "site-packages" / "ansible"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "ansible-playbook").write_text("#!/bin/sh\n")
    spec = importlib.machinery.ModuleSpec("ansible", None, origin=str(package / "__init__.py"))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)
    dirs = ansible_run.ansible_bindirs()
    assert dirs[0] == os.path.dirname(ansible_run.sys.executable)
    assert dirs[1:] == [str(tmp_path / "bin")]
    # an environment without the script adds nothing
    (tmp_path / "bin" / "ansible-playbook").unlink()
    assert ansible_run.ansible_bindirs()[1:] == []


PATCHED_RUN = r"""
import subprocess, sys, time  # imported before patching, as pytest and StackStorm do
import eventlet
eventlet.monkey_patch()
sys.path.insert(0, sys.argv[1])
import ansible_run
ticks = [0]
def tick():
    while True:
        ticks[0] += 1
        time.sleep(0.02)
eventlet.spawn(tick)
eventlet.sleep(0)
before = ticks[0]
started = time.time()
summary = ansible_run.run_playbook("no-such-playbook.yml", {}, timeout_s=60)
print(summary["status"], ticks[0] - before, round(time.time() - started, 2))
"""


def test_waiting_for_ansible_yields_to_other_green_threads():
    """Patched (as StackStorm runs actions), the minutes of an ansible run must not freeze the
    process: other green threads (the twin's API server in tests, heartbeats) keep running."""
    import os
    import subprocess
    import sys

    lib = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "actions", "lib")
    out = subprocess.run([sys.executable, "-c", PATCHED_RUN, lib], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    status, ticks, seconds = out.stdout.split()[-3:]
    assert status == "failed"
    # the ticker ran throughout the run (a blocking wait would leave it at 0)
    assert int(ticks) >= 0.5 * float(seconds) / 0.02 > 5, out.stdout

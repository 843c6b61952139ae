"""Every remediation action's metadata matches its Python entry point (parameters = execute()
arguments, one Action subclass). StackStorm's own ActionAPI validates the metadata itself on the
genuine track (tests/genuine/test_metadata_api.py)."""
import ast
import os
import unittest

import yaml

from action_case import ACTIONS_DIR

ACTIONS = ("cordon_node uncordon_node drain_node evict_pods identify_top_memory_pods capture_logs "
           "restart_pod check_recent_deploys rollback_deployment scale_deployment "
           "restart_deployment wait_for_rollout configure_circuit_breaker notify_dependents "
           "increase_pool_size_temporarily restart_idle_connections scale_node_pool "
           "wait_for_condition revert_expired_changes").split()


class ActionMetadataTest(unittest.TestCase):
    def load(self, name):
        with open(os.path.join(ACTIONS_DIR, name + ".yaml")) as handle:
            return yaml.safe_load(handle)

    def test_metadata_matches_entry_points(self):
        for name in ACTIONS:
            meta = self.load(name)
            self.assertEqual(meta["runner_type"], "python-script")
            self.assertEqual(meta["entry_point"], name + ".py")
            with open(os.path.join(ACTIONS_DIR, name + ".py")) as handle:
                tree = ast.parse(handle.read())
            classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
            self.assertEqual(len(classes), 1, name)
            execute = next(f for f in classes[0].body
                           if isinstance(f, ast.FunctionDef) and f.name == "execute")
            args = {a.arg for a in execute.args.args[1:]}
            # `timeout` overrides the python-script runner's parameter; it is not passed to run()
            self.assertEqual(args, set(meta["parameters"]) - {"timeout"}, name)
            for pname, spec in meta["parameters"].items():
                self.assertIn("description", spec, "%s.%s" % (name, pname))
                self.assertIn("type", spec, "%s.%s" % (name, pname))
            self.assertEqual(meta["output_schema"]["type"], "object")
            if "incident_id" in meta["parameters"]:
                self.assertIs(meta["parameters"]["dry_run"]["default"], False, name)


class DeployRbacCoversActionsTest(unittest.TestCase):
    """deploy/rbac.yaml (the healer's ClusterRole) grants what the remediation actions use
    (tests/actions/twin_env.PACK_RBAC, which the action tests run under)."""

    def test_every_permission_is_granted(self):
        from twin_env import PACK_RBAC

        path = os.path.join(os.path.dirname(ACTIONS_DIR), "deploy", "rbac.yaml")
        if not os.path.exists(path):
            self.skipTest("deploy/rbac.yaml not written yet")
        with open(path) as handle:
            roles = [d for d in yaml.safe_load_all(handle)
                     if d and d.get("kind") == "ClusterRole"]
        granted = set()
        for role in roles:
            for rule in role.get("rules", []):
                for group in rule.get("apiGroups", []):
                    for resource in rule.get("resources", []):
                        for verb in rule.get("verbs", []):
                            granted.add((group, resource, verb))
        needed = set()
        for rule in PACK_RBAC[0]["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        needed.add((group, resource, verb))
        self.assertEqual(sorted(needed - granted), [])

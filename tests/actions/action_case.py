"""Base test case: a StackStorm action test (BaseActionTestCase) against a fresh twin cluster."""
import json
import os

from patched import run_patched

import jsonschema
import yaml
from st2tests.base import BaseActionTestCase

from twin_env import TwinCluster

ACTIONS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "actions")


def output_schema(action_name):
    with open(os.path.join(ACTIONS_DIR, action_name + ".yaml")) as handle:
        return yaml.safe_load(handle)["output_schema"]


class TwinActionTestCase(BaseActionTestCase):
    """`self.twin` is a running TwinCluster; `self.run_action(**params)` -> (ok, result)."""

    action_cls = None
    action_name = ""
    with_workloads = True
    tls = False

    def setUp(self):
        super(TwinActionTestCase, self).setUp()
        self.twin = TwinCluster(with_workloads=self.with_workloads, tls=self.tls)
        self.addCleanup(self.twin.stop)
        self.addCleanup(self.assert_nothing_forbidden)

    def assert_nothing_forbidden(self):
        """The actions never needed a permission the pack's ClusterRole lacks."""
        self.assertEqual(self.twin.api.authorizer.denied(), [])

    def action(self, **config):
        return self.get_action_instance(config=self.twin.config(**config))

    def run_action(self, config=None, **params):
        if os.environ.get("SH_ACTIONS_PATCHED") == "1":  # the whole file, as StackStorm runs it
            return self.run_action_patched(config, **params)
        out = self.action(**(config or {})).run(**params)
        ok, result = (out if isinstance(out, tuple) else (True, out))
        json.dumps(result)  # StackStorm stores results as JSON
        if ok:
            jsonschema.Draft4Validator(output_schema(self.action_name)).validate(result)
        return ok, result

    def run_action_patched(self, config=None, **params):
        """run_action in the action's own eventlet-patched process (the engine's worker)."""
        status, out = run_patched(self.action_name, self.twin.config(**(config or {})), params,
                                  self.twin.time, self.action_service)
        if out.get("traceback"):
            raise AssertionError("the action raised:\n%s" % out["traceback"])
        self.assertIn(status, ("succeeded", "failed"), out)
        ok, result = status == "succeeded", out["result"]
        json.dumps(result)
        if ok:
            jsonschema.Draft4Validator(output_schema(self.action_name)).validate(result)
        return ok, result

    def audit_records(self):
        return [json.loads(item.value) for item in self.action_service.list_values(
            local=False, prefix="self_healing.audit.")]

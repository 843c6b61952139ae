"""The node-pool playbook and its provider task files: valid YAML, fully-qualified modules,
and `ansible-playbook --syntax-check` of the main playbook."""
import glob
import os
import subprocess
import sys
import unittest

import yaml

from action_case import ACTIONS_DIR

PLAYBOOKS = os.path.join(os.path.dirname(ACTIONS_DIR), "playbooks")
TASK_KEYS = {"name", "when", "register", "check_mode", "no_log", "until", "retries", "delay",
             "changed_when", "failed_when", "loop", "vars", "tags", "ignore_errors"}


class PlaybookFilesTest(unittest.TestCase):
    def test_provider_task_files_use_fully_qualified_modules(self):
        files = sorted(glob.glob(os.path.join(PLAYBOOKS, "tasks", "scale_*.yml")))
        self.assertEqual([os.path.basename(f) for f in files],
                         ["scale_aks.yml", "scale_cluster_api.yml", "scale_eks.yml",
                          "scale_gke.yml"])
        for path in files:
            with open(path) as handle:
                tasks = yaml.safe_load(handle)
            for task in tasks:
                modules = [k for k in task if k not in TASK_KEYS]
                self.assertEqual(len(modules), 1, (path, task.get("name")))
                self.assertEqual(modules[0].count("."), 2, (path, modules[0]))
            self.assertIn("scale_result", open(path).read(), path)

    def test_syntax_check(self):
        binary = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
        if not os.path.exists(binary):
            self.skipTest("ansible-playbook is not installed next to this Python")
        out = subprocess.run([binary, "--syntax-check", "-i", "localhost,",
                              os.path.join(PLAYBOOKS, "scale_node_pool.yml")],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stdout)

"""Run a pack action as StackStorm runs it: in its own eventlet-patched process.

`run_patched` uses the engine's worker (engine/isolation.py): a child forked from a process
that called eventlet.monkey_patch() first, its clock the twin's virtual clock and its
datastore the test's action_service, both served over the engine's RPC channel.
`run_script` runs `patched_script.py` in a fresh interpreter instead, for conditions the
worker does not have (another green thread running an asyncio loop, as under st2tests).
"""
import json
import os
import subprocess
import sys
from typing import Any, Dict, Optional, Tuple

import yaml

from engine import isolation

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ACTIONS_DIR = os.path.join(REPO, "actions")


def run_patched(name: str, config: Dict[str, Any], params: Dict[str, Any], time: Any,
                action_service: Any, timeout_s: Optional[float] = None
                ) -> Tuple[str, Dict[str, Any]]:
    """(status, {"result", "stdout", "stderr", "exit_code", ...}) of `actions/<name>.py`;
    the timeout is the action's `timeout` runner parameter default unless given."""
    if timeout_s is None:
        with open(os.path.join(ACTIONS_DIR, name + ".yaml")) as handle:
            meta = yaml.safe_load(handle)
        timeout_s = ((meta.get("parameters") or {}).get("timeout") or {}).get("default")
    request = {"entry_path": os.path.join(ACTIONS_DIR, name + ".py"), "name": name,
               "actions_dir": ACTIONS_DIR, "config": config, "parameters": params, "env": {}}
    host = isolation.Host(time.now, time.sleep, lambda owner: action_service)
    return isolation.run_action(request, host, timeout_s)


def run_script(name: str, config: Dict[str, Any], params: Dict[str, Any],
               busy_asyncio_loop: bool = False, timeout_s: float = 120) -> Dict[str, Any]:
    """Run the action in a new patched interpreter; what patched_script.py printed."""
    request = {"name": name, "config": config, "params": params,
               "busy_asyncio_loop": busy_asyncio_loop}
    proc = subprocess.run([sys.executable, os.path.join(HERE, "patched_script.py")],
                          input=json.dumps(request), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout_s,
                          cwd=REPO)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise AssertionError("patched_script.py printed no result (exit %s): %s"
                             % (proc.returncode, proc.stderr[-2000:]))
    return json.loads(lines[-1])

"""Run one of the pack's Ansible playbooks through ansible-runner and summarise the run.

ansible-runner drives ansible-playbook with pexpect, which needs `select.poll()`: eventlet's
monkey-patching (every StackStorm action and sensor runs patched) removes it. So the run
happens in a fresh, unpatched Python process: this module run as a script, the request as
JSON on stdin (credentials never on a command line), the summary as JSON on stdout.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Any, Dict, List, Optional

PLAYBOOK_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                             os.pardir, os.pardir, "playbooks"))
TASK_EVENTS = ("runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_on_unreachable",
               "runner_item_on_failed", "error")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
MAX_EVENTS = 50


def kube_connection(api_client: Any) -> Dict[str, Any]:
    """API server URL and credentials of a kubernetes ApiClient, as playbook variables."""
    cfg = api_client.configuration
    if getattr(cfg, "refresh_api_key_hook", None):
        cfg.refresh_api_key_hook(cfg)
    auth = cfg.get_api_key_with_prefix("authorization") or cfg.get_api_key_with_prefix(
        "BearerToken") or ""
    token = auth[len("Bearer "):] if auth.startswith("Bearer ") else auth
    return {"k8s_api_server": cfg.host, "k8s_token": token,
            "k8s_verify_ssl": bool(cfg.verify_ssl), "k8s_ca_file": cfg.ssl_ca_cert or "",
            "k8s_cert_file": cfg.cert_file or "", "k8s_key_file": cfg.key_file or ""}


def summarise_events(events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Task outcomes (event, task, changed, msg), secrets never included."""
    summary = []
    for event in events:
        if event.get("event") not in TASK_EVENTS:
            continue
        data = event.get("event_data") or {}
        res = data.get("res") or {}
        msg = res.get("msg") if isinstance(res, dict) else ""
        if isinstance(res, dict) and res.get("censored"):
            msg = "(output hidden: no_log)"
        if event["event"] == "error":  # e.g. a provider's collection is not installed
            msg = " ".join(ANSI.sub("", event.get("stdout") or "").split())
        summary.append({"event": event["event"].replace("runner_on_", ""),
                        "task": data.get("task", ""), "changed": bool(
                            isinstance(res, dict) and res.get("changed")),
                        "msg": str(msg or "")[:300]})
    return summary[-MAX_EVENTS:]


# Beyond the playbook's own timeout: the interpreter and ansible-runner start, then clean up.
SUBPROCESS_GRACE_S = 60


def run_playbook(playbook: str, extravars: Dict[str, Any], check: bool = False,
                 timeout_s: Optional[int] = None) -> Dict[str, Any]:
    """Run `playbooks/<playbook>` on localhost in a subprocess; status, rc, stats, events, data.

    A run that cannot start or never answers is reported as status `failed` with an error
    event, never raised."""
    request = json.dumps({"playbook": playbook, "extravars": extravars, "check": bool(check),
                          "timeout_s": timeout_s})
    limit = (timeout_s + SUBPROCESS_GRACE_S) if timeout_s else None
    module = _subprocess_module()
    # eventlet's Popen raises the TimeoutExpired of its own copy of the stdlib module
    original = getattr(module, "subprocess_orig", module)
    timeouts = tuple({subprocess.TimeoutExpired, module.TimeoutExpired, original.TimeoutExpired})
    with module.Popen([sys.executable, os.path.abspath(__file__)], stdin=subprocess.PIPE,
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                      universal_newlines=True) as proc:
        try:
            stdout, stderr = proc.communicate(request, timeout=limit)
        except timeouts:
            proc.kill()
            proc.communicate()
            return _not_run("timeout", "ansible-runner did not finish within %ss" % limit)
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        return _not_run("failed", "ansible-runner exited %s: %s" % (
            proc.returncode, " ".join((stderr or stdout).split())[-300:]))


def _subprocess_module() -> Any:
    """eventlet's green subprocess in a monkey-patched process: waiting for the run then yields
    to the hub instead of blocking every green thread of the process (a plain `subprocess`
    keeps the `select` it imported before patching)."""
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None and patcher.is_monkey_patched("select"):
        from eventlet.green import subprocess as green_subprocess
        return green_subprocess
    return subprocess


def _not_run(status: str, message: str) -> Dict[str, Any]:
    return {"status": status, "rc": None, "stats": {}, "data": {},
            "events": [{"event": "error", "task": "", "changed": False, "msg": message}]}


def ansible_bindirs() -> List[str]:
    """Where `ansible-playbook` is: beside this interpreter, and in the environment whose
    site-packages hold the importable `ansible` (a pack virtualenv in front of st2's Python)."""
    import importlib.util

    dirs = [os.path.dirname(sys.executable)]
    spec = importlib.util.find_spec("ansible")
    if spec is not None and spec.origin:
        # <prefix>/lib/pythonX.Y/site-packages/ansible/__init__.py -> <prefix>/bin
        prefix = os.path.normpath(os.path.join(os.path.dirname(spec.origin), *[os.pardir] * 4))
        candidate = os.path.join(prefix, "bin")
        if candidate not in dirs and os.path.isfile(os.path.join(candidate, "ansible-playbook")):
            dirs.append(candidate)
    return dirs


def run_in_this_process(playbook: str, extravars: Dict[str, Any], check: bool = False,
                        timeout_s: Optional[int] = None) -> Dict[str, Any]:
    """The run itself (in an unpatched interpreter: see the module docstring)."""
    import ansible_runner

    envvars = {"PATH": os.pathsep.join(ansible_bindirs() + [os.environ.get("PATH", "")]),
               "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
               "ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "0",
               "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
               "PYTHONWARNINGS": "ignore"}
    private = tempfile.mkdtemp(prefix="self-healing-ansible-")
    try:
        runner = ansible_runner.run(
            private_data_dir=private, project_dir=PLAYBOOK_DIR, playbook=playbook,
            inventory={"all": {"hosts": {"localhost": {
                "ansible_connection": "local",
                "ansible_python_interpreter": sys.executable}}}},
            extravars=extravars, cmdline="--check" if check else None, envvars=envvars,
            quiet=True, timeout=timeout_s, json_mode=False)
        events = list(runner.events)
        stats_event = next((e for e in reversed(events)
                            if e.get("event") == "playbook_on_stats"), {})
        artifact = (stats_event.get("event_data") or {}).get("artifact_data") or {}
        return {"status": runner.status, "rc": runner.rc, "stats": runner.stats or {},
                "events": summarise_events(events), "data": artifact}
    finally:
        shutil.rmtree(private, ignore_errors=True)


def main() -> int:
    """Script entry: the request as JSON on stdin, the summary as one JSON line on stdout."""
    request = json.loads(sys.stdin.read())
    summary = run_in_this_process(request["playbook"], request["extravars"],
                                  check=request.get("check", False),
                                  timeout_s=request.get("timeout_s"))
    sys.stdout.write("\n" + json.dumps(summary, default=str) + "\n")
    return 0


if __name__ == "__main__":
    del sys.path[0]  # actions/lib: its modules must not shadow what ansible imports
    sys.exit(main())

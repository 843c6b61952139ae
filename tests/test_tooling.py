"""Makefile targets and the interpreter finder do what README and CI rely on."""
import ast
import os
import re
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _make_n(*args):
    result = subprocess.run(["make", "-n", "-C", REPO_ROOT] + list(args),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True)
    assert result.returncode == 0, result.stdout
    return result.stdout.replace("\\\n", " ")


def test_demo_passes_scenario_and_mode():
    out = _make_n("demo", "SCENARIO=scenarios/x.yaml", "MODE=dry_run")
    assert ".venv38/bin/python -m harness.demo --scenario scenarios/x.yaml" in out
    assert "--mode dry_run" in out
    (line,) = [ln for ln in _make_n("demo").splitlines() if "harness.demo" in ln]
    assert "--scenario" not in line and "--mode" not in line


def test_test_target_runs_both_tracks_and_lint():
    out = _make_n("test38", "test311", "lint")
    assert ".venv38/bin/python -m pytest" in out
    assert '.venv311/bin/python -m pytest -q -m "not orquesta"' in out
    assert "ruff check ." in out


def test_other_targets_call_their_modules():
    assert "-m twin --scenario s.yaml" in _make_n("twin", "SCENARIO=s.yaml")
    assert "-m bench.scenarios --scenarios d" in _make_n("bench", "SCENARIOS=d")
    assert "-m bench.scale" in _make_n("bench-scale")
    assert "-m bench.faults" in _make_n("faults")


def test_find_python_returns_a_matching_interpreter():
    version = "%d.%d" % sys.version_info[:2]
    found = subprocess.run([os.path.join(REPO_ROOT, ".ci", "find_python"), version],
                           stdout=subprocess.PIPE, universal_newlines=True, check=True)
    path = found.stdout.strip()
    reported = subprocess.run([path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                              stdout=subprocess.PIPE, universal_newlines=True, check=True)
    assert reported.stdout.strip() == version


def test_find_python_explains_what_to_install():
    result = subprocess.run([os.path.join(REPO_ROOT, ".ci", "find_python"), "2.9"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    assert result.returncode == 1
    assert "pyenv install 2.9" in result.stderr and "uv python install 2.9" in result.stderr


# requirements.txt distribution -> the top-level module runtime code imports (None: a tool).
RUNTIME_DISTRIBUTIONS = {"kubernetes": "kubernetes", "nats-py": "nats",
                         "ansible-runner": "ansible_runner", "pyyaml": "yaml",
                         "requests": "requests", "urllib3": "urllib3",
                         "ansible-core": None,  # ansible-playbook, run by ansible-runner
                         "cryptography": None}  # pin for st2 3.8's pyOpenSSL (see the file)
# Modules StackStorm provides to actions and sensors (never in the pack's requirements);
# eventlet is imported only when StackStorm has already monkey-patched the process with it.
ST2_PROVIDED = {"st2common", "st2reactor", "st2client", "eventlet"}


def _requirement_names():
    names = []
    with open(os.path.join(REPO_ROOT, "requirements.txt")) as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if line:
                names.append(re.split(r"[<>=!~;\[ ]", line, maxsplit=1)[0].lower())
    return names


def _runtime_imports():
    """Top-level modules imported by actions/ and sensors/ that are not the pack's own."""
    own = {"lib", "_pack_path"} | {os.path.splitext(f)[0] for d in ("actions", "sensors")
                                   for f in os.listdir(os.path.join(REPO_ROOT, d))}
    found = set()
    for folder in ("actions", "sensors"):
        for root, _dirs, files in os.walk(os.path.join(REPO_ROOT, folder)):
            for name in files:
                if name.endswith(".py"):
                    with open(os.path.join(root, name)) as handle:
                        tree = ast.parse(handle.read())
                    for node in ast.walk(tree):
                        if isinstance(node, ast.Import):
                            found.update(a.name.split(".")[0] for a in node.names)
                        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                            found.add(node.module.split(".")[0])
    stdlib = set(getattr(sys, "stdlib_module_names", ())) or _stdlib_guess(found)
    return {m for m in found if m not in stdlib and m not in own}


def _stdlib_guess(modules):
    """Python 3.8 has no sys.stdlib_module_names: a module found outside site-packages under
    the interpreter's stdlib directory (or built in) is one."""
    import importlib.util
    import sysconfig

    stdlib_dir = os.path.realpath(sysconfig.get_paths()["stdlib"])
    out = set()
    for name in modules:
        spec = importlib.util.find_spec(name)
        origin = (spec.origin or "") if spec else ""
        if name in sys.builtin_module_names or origin in ("built-in", "frozen") or (
                os.path.realpath(origin).startswith(stdlib_dir) and "site-packages" not in origin):
            out.add(name)
    return out


def test_runtime_requirements_are_exactly_what_runtime_code_imports():
    names = _requirement_names()
    assert sorted(set(names)) == sorted(RUNTIME_DISTRIBUTIONS), names
    imported = _runtime_imports()
    expected = {m for m in RUNTIME_DISTRIBUTIONS.values() if m}
    assert imported - ST2_PROVIDED == expected, sorted(imported)


def test_requirements_split_runtime_from_tests():
    with open(os.path.join(REPO_ROOT, "requirements.txt")) as handle:
        runtime = handle.read().lower()
    for name in ("pytest", "ruff", "matplotlib", "orquesta", "prometheus-api-client", "jinja2",
                 "pandas", "numpy"):
        assert name not in runtime, name
    # ansible-core: the newest release whose controller supports each Python, by marker.
    assert 'ansible-core>=2.13,<2.14; python_version < "3.9"' in runtime


def test_st2_track_runs_genuine_stackstorm_with_the_pack_venv_in_front():
    out = _make_n("test-st2", "ST2_GENUINE=/nonexistent/st2-genuine")
    (line,) = [" ".join(ln.split()) for ln in out.splitlines() if "-m pytest" in ln]
    assert '.venv-st2/bin/python -m pytest -q -m "st2style or orquesta or genuine"' in line
    path = line.split("PYTHONPATH=", 1)[1].split(" ", 1)[0].split(":")
    assert path[0].endswith("/.venv-st2-pack/lib/python3.8/site-packages")
    assert path[1] == "/nonexistent/st2-genuine/st2-v3.8.1/st2common"
    assert [p.rsplit("/", 1)[-1] for p in path[-3:]] == ["sensors", "actions", "lib"]
    assert "make --no-print-directory test-st2" in _make_n("test").replace("$(MAKE)", "make")

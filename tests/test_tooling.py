"""Makefile targets and the interpreter finder do what README and CI rely on."""
import os
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
    assert ".venv38/bin/python -m engine.demo --scenario scenarios/x.yaml" in out
    assert "--mode dry_run" in out
    (line,) = [ln for ln in _make_n("demo").splitlines() if "engine.demo" in ln]
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


def test_requirements_split_runtime_from_tests():
    with open(os.path.join(REPO_ROOT, "requirements.txt")) as handle:
        runtime = handle.read().lower()
    for name in ("kubernetes", "prometheus-api-client", "nats-py", "ansible-runner",
                 "ansible-core", "pyyaml"):
        assert name in runtime, name
    for name in ("pytest", "ruff", "matplotlib", "orquesta"):
        assert name not in runtime, name

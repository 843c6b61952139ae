"""StackStorm's own `st2-validate-pack` and `st2-validate-pack-config` on this pack and on
self_healing.yaml.example, run as StackStorm ships them (st2common/bin), plus broken copies
that they must reject."""
import importlib.machinery
import os
import shutil
import subprocess
import sys
import types
from unittest import mock

import pytest

pytest.importorskip("st2common.models.api.action",
                    reason="needs genuine StackStorm st2common (run `make test-st2`)")

from genuine_pack import KINDS, REPO_ROOT, ST2_SRC  # noqa: E402

pytestmark = pytest.mark.genuine

BIN = os.path.join(ST2_SRC, "st2common", "bin")


def run(tool, *args):
    """(exit code, output) of one st2common/bin tool under this interpreter and PYTHONPATH."""
    result = subprocess.run([sys.executable, os.path.join(BIN, tool)] + list(args),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=120, cwd=REPO_ROOT)
    return result.returncode, result.stdout


def pack_copy(tmp_path):
    """The pack's metadata (pack.yaml and every kind's *.yaml) in a scratch directory."""
    dest = tmp_path / "self_healing"
    dest.mkdir()
    shutil.copy(os.path.join(REPO_ROOT, "pack.yaml"), str(dest))
    for kind in KINDS:
        shutil.copytree(os.path.join(REPO_ROOT, kind), str(dest / kind),
                        ignore=shutil.ignore_patterns("*.py", "workflows", "lib"))
    return dest


def test_validate_pack_accepts_the_pack():
    code, out = run("st2-validate-pack", "--pack-path", REPO_ROOT)
    assert code == 0 and "ERROR" not in out, out


def test_validate_pack_rejects_a_broken_copy(tmp_path):
    dest = pack_copy(tmp_path)
    assert run("st2-validate-pack", "--pack-path", str(dest))[0] == 0
    with open(str(dest / "actions" / "restart_pod.yaml"), "a") as handle:
        handle.write("runner_typo: python-script\n")
    code, out = run("st2-validate-pack", "--pack-path", str(dest))
    assert code == 1 and "runner_typo" in out and "restart_pod.yaml" in out, out


GOOD_PACK = os.path.join(REPO_ROOT, "tests", "conformance", "fixtures", "good_pack")
BROKEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "broken")


def overlay_pack(tmp_path, case=None):
    """The conformance suite's good fixture pack, with a broken case's files laid over it."""
    dest = str(tmp_path / "pack")
    shutil.copytree(GOOD_PACK, dest)
    if case:
        source = os.path.join(BROKEN, case)
        for directory, _, files in os.walk(source):
            for name in files:
                if name != "_expect.txt":
                    rel = os.path.relpath(os.path.join(directory, name), source)
                    os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
                    shutil.copy(os.path.join(directory, name), os.path.join(dest, rel))
    return dest


def test_validate_pack_accepts_the_good_fixture_pack(tmp_path):
    code, out = run("st2-validate-pack", "--pack-path", overlay_pack(tmp_path))
    assert code == 0 and "ERROR" not in out, out


def validate_pack_in_process(pack, capsys):
    """st2-validate-pack's own main(), loaded from st2common/bin (fast: no new interpreter)."""
    loader = importlib.machinery.SourceFileLoader("st2_validate_pack",
                                                  os.path.join(BIN, "st2-validate-pack"))
    module = types.ModuleType(loader.name)
    loader.exec_module(module)
    with mock.patch.object(sys, "argv", ["st2-validate-pack", "--pack-path", pack]):
        with pytest.raises(SystemExit) as exited:
            module.main()
    return exited.value.code, capsys.readouterr().out


@pytest.mark.parametrize("case", sorted(os.listdir(BROKEN)))
def test_validate_pack_reports_each_broken_fixture(tmp_path, capsys, case):
    """Schema violations (formerly checked by tests/conformance against copied schemas),
    reported by StackStorm itself: each expected line of the case's _expect.txt appears."""
    pack = overlay_pack(tmp_path, case)
    code, out = validate_pack_in_process(pack, capsys)
    with open(os.path.join(BROKEN, case, "_expect.txt")) as handle:
        expected = [line.strip().replace("{pack}", pack) for line in handle if line.strip()]
    assert code == 1 and expected, out
    for text in expected:
        assert text in out, "%s: expected %r in:\n%s" % (case, text, out)


def validate_config(config_path):
    return run("st2-validate-pack-config", "--schema-path",
               os.path.join(REPO_ROOT, "config.schema.yaml"), "--config-path", str(config_path))


def test_validate_pack_config_accepts_the_example_config():
    code, out = validate_config(os.path.join(REPO_ROOT, "self_healing.yaml.example"))
    assert code == 0 and "successfully validated" in out, out


@pytest.mark.parametrize("line, key", [("mode: yolo\n", "mode"),
                                       ("poll_interval_s: soon\n", "poll_interval_s")])
def test_validate_pack_config_rejects_a_bad_value(tmp_path, line, key):
    with open(os.path.join(REPO_ROOT, "self_healing.yaml.example")) as handle:
        lines = [ln for ln in handle if not ln.startswith(key + ":")]
    bad = tmp_path / "self_healing.yaml"
    bad.write_text("".join(lines) + line)
    code, out = validate_config(bad)
    assert code != 0 and "Failed to validate pack config" in out and key in out, out

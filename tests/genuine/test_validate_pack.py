"""StackStorm's own `st2-validate-pack` and `st2-validate-pack-config` on this pack and on
self_healing.yaml.example, run as StackStorm ships them (st2common/bin), plus broken copies
that they must reject."""
import os
import shutil
import subprocess
import sys

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

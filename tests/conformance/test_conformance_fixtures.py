"""Each conformance check fails loudly on a broken fixture and stays quiet on a good one.

A broken fixture (fixtures/broken/<case>/) is an overlay: its files replace or add files of
fixtures/good_pack (plus this repository's config.schema.yaml and example config), and its
_expect.txt lists text that must appear among the problems reported."""
import os
import shutil

import pytest
import st2_conformance as sc
from lib.config import load_settings

HERE = os.path.dirname(os.path.abspath(__file__))
GOOD = os.path.join(HERE, "fixtures", "good_pack")
BROKEN = os.path.join(HERE, "fixtures", "broken")
CASES = sorted(os.listdir(BROKEN))
NEEDS_ORQUESTA = {"workflow_inspect"}


def _have_orquesta():
    try:
        import orquesta  # noqa: F401
    except ImportError:
        return False
    return True


def build_pack(tmp_path, overlay=None):
    root = str(tmp_path / "pack")
    shutil.copytree(GOOD, root)
    for name in ("config.schema.yaml", "self_healing.yaml.example"):
        shutil.copy(os.path.join(sc.REPO_ROOT, name), os.path.join(root, name))
    if overlay:
        for directory, _, files in os.walk(overlay):
            for name in files:
                if name == "_expect.txt":
                    continue
                source = os.path.join(directory, name)
                target = os.path.join(root, os.path.relpath(source, overlay))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copy(source, target)
    return root


def problems_of(root, with_orquesta, lint=True):
    pack = sc.Pack(root)
    problems = sc.all_problems(pack, with_orquesta=with_orquesta, settings_loader=load_settings)
    if not lint:
        return problems
    python_files = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs
                    if f.endswith(".py")]
    return problems + sc.ruff_problems(python_files, cwd=root, isolated=True)


def _has_python(directory):
    return any(f.endswith(".py") for _, _, fs in os.walk(directory) for f in fs)


def test_good_pack_has_no_problems(tmp_path):
    problems = problems_of(build_pack(tmp_path), with_orquesta=False)
    assert problems == []


@pytest.mark.orquesta
def test_good_pack_passes_orquesta_inspect(tmp_path):
    pack = sc.Pack(build_pack(tmp_path))
    assert pack.workflows == ["actions/workflows/flow.yaml"]
    assert sc.check_workflow_inspect(pack, pack.workflows[0]) == []


@pytest.mark.parametrize("case", [
    pytest.param(c, marks=pytest.mark.orquesta) if c in NEEDS_ORQUESTA else c for c in CASES])
def test_broken_fixture_is_reported(tmp_path, case):
    overlay = os.path.join(BROKEN, case)
    with open(os.path.join(overlay, "_expect.txt")) as handle:
        expected = [line.strip() for line in handle if line.strip()]
    assert expected, "fixture %s has no _expect.txt lines" % case
    problems = problems_of(build_pack(tmp_path, overlay), with_orquesta=_have_orquesta(),
                           lint=_has_python(overlay))
    report = "\n".join(problems)
    for text in expected:
        assert text in report, "%s: expected %r among:\n%s" % (case, text, report)


def test_missing_schema_directory_fails_loudly(monkeypatch, tmp_path):
    monkeypatch.setenv("ST2_SCHEMAS_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(sc.SchemasMissing, match="StackStorm schemas not found"):
        sc.schemas_dir()


def test_property_level_required_is_honoured():
    schema = {"type": "object", "properties": {"name": {"type": "string", "required": True}}}
    assert sc.schema_errors({}, schema) == ["(top): 'name' is a required property"]
    assert sc.schema_errors({"name": "x"}, schema) == []

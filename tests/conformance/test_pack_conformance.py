"""This pack's metadata, workflows and code conform to StackStorm (see st2_conformance.py).

Each check is parametrised over the files that exist, so new actions, rules, sensors, aliases,
policies and workflows are covered as soon as they are added."""
import os

import pytest
import st2_conformance as sc
from lib.config import load_settings

PACK = sc.Pack(sc.REPO_ROOT)


def _ids(kind):
    return PACK.files[kind]


def _assert_none(problems):
    assert not problems, "\n".join(problems)


def test_schemas_directory_is_present():
    assert os.path.isfile(os.path.join(sc.schemas_dir(), "util-schema", "action_params.json"))


def test_every_metadata_file_parses():
    _assert_none(PACK.load_problems)


def test_pack_manifest():
    _assert_none(sc.check_pack_manifest(PACK))
    assert PACK.manifest["python_versions"] == ["3"]
    assert PACK.manifest["stackstorm_version"] == ">=3.8.0"
    for field in ("author", "email", "keywords", "version", "description"):
        assert PACK.manifest.get(field), field


def test_pack_files_exist():
    for rel in ("config.schema.yaml", "self_healing.yaml.example", "requirements.txt",
                "requirements-tests.txt", "LICENSE", "CHANGES.md", "icon.png", "README.md"):
        assert os.path.isfile(os.path.join(sc.REPO_ROOT, rel)), rel


@pytest.mark.parametrize("kind", sc.RESOURCE_KINDS)
def test_pack_has_resources_of_every_kind(kind):
    assert PACK.files[kind], "no %s/*.yaml in the pack" % kind


def test_pack_has_workflows():
    assert PACK.workflows, "no actions/workflows/*.yaml in the pack"


def test_config_schema_keys_are_action_parameters():
    _assert_none(sc.check_config_schema(PACK))


def test_example_config_validates_and_loads():
    _assert_none(sc.check_example_config(PACK, settings_loader=load_settings))


def test_names_are_unique():
    _assert_none(sc.check_unique_names(PACK))


@pytest.mark.parametrize("rel", [r for kind in sc.RESOURCE_KINDS for r in PACK.files[kind]])
def test_resource_pack_field_and_trigger_payloads(rel):
    _assert_none(sc.check_resource(PACK, rel))


@pytest.mark.parametrize("rel", _ids("actions"))
def test_action_entry_point(rel):
    _assert_none(sc.check_action_entry_point(PACK, rel))


@pytest.mark.parametrize("rel", _ids("sensors"))
def test_sensor_entry_point(rel):
    _assert_none(sc.check_sensor_entry_point(PACK, rel))


@pytest.mark.parametrize("rel", _ids("rules"))
def test_rule_trigger_and_action(rel):
    _assert_none(sc.check_rule(PACK, rel))


@pytest.mark.parametrize("rel", _ids("aliases"))
def test_alias_maps_to_action(rel):
    _assert_none(sc.check_alias(PACK, rel))


@pytest.mark.parametrize("rel", _ids("policies"))
def test_policy_targets_action(rel):
    _assert_none(sc.check_policy(PACK, rel))


@pytest.mark.parametrize("rel", PACK.workflows)
def test_workflow_syntax_against_orquesta_schema(rel):
    _assert_none(sc.check_workflow_syntax(PACK, rel))


@pytest.mark.parametrize("rel", PACK.workflows)
def test_workflow_task_actions_and_inputs(rel):
    _assert_none(sc.check_workflow_tasks(PACK, rel))


@pytest.mark.parametrize("rel", PACK.workflows)
def test_workflow_has_action_metadata(rel):
    _assert_none(sc.check_workflow_metadata(PACK, rel))


@pytest.mark.orquesta
@pytest.mark.parametrize("rel", PACK.workflows)
def test_workflow_passes_orquesta_inspect(rel):
    _assert_none(sc.check_workflow_inspect(PACK, rel))


def test_lint_clean_with_line_length_100():
    with open(os.path.join(sc.REPO_ROOT, "ruff.toml")) as handle:
        assert "line-length = 100" in handle.read()
    _assert_none(sc.ruff_problems(["."], cwd=sc.REPO_ROOT))

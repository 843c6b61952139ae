"""The catalogue (actions/lib/catalogue.py) is the one list of detectors and playbooks: the
Python places read it, the committed StackStorm YAML is what `make generate` writes from it,
and the signal payload carries the target key the rules pass on."""
import ast
import os
import shutil
import subprocess

import pytest
import yaml

from lib import catalogue, config, diagnosis, policy, signals
from lib.detectors import REGISTRY
from lib.signals import Signal, make_target, validate_payload
from tools import generate

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_committed_files_are_what_make_generate_writes():
    assert generate.drift() == [], "run `make generate` (tools/generate.py) and commit"


def test_generation_is_stable_and_marks_its_files():
    first, second = generate.render(), generate.render()
    assert first == second
    for rel, text in first.items():
        assert generate.HEADER in text, rel
        yaml.safe_load(text)  # every generated file is YAML
    for entry in catalogue.DETECTORS:
        assert first["rules/on_%s.yaml" % entry.name].startswith(generate.HEADER + "\n---\n")


def _copy_generated(tmp_path):
    for rel in generate.render():
        os.makedirs(str(tmp_path / os.path.dirname(rel)), exist_ok=True)
        shutil.copy(os.path.join(REPO, rel), str(tmp_path / rel))
    for folder in ("rules", "policies"):  # hand-written neighbours stay untouched
        for name in os.listdir(os.path.join(REPO, folder)):
            if not (tmp_path / folder / name).exists():
                shutil.copy(os.path.join(REPO, folder, name), str(tmp_path / folder / name))
    return str(tmp_path)


def test_drift_is_found_and_make_generate_repairs_it(tmp_path):
    root = _copy_generated(tmp_path)
    assert generate.drift(root) == []
    rule = tmp_path / "rules" / "on_crash_loop.yaml"
    rule.write_text(rule.read_text().replace("trigger.target_key", "trigger.target.name"))
    action = tmp_path / "actions" / "memory_leak.yaml"
    action.write_text(action.read_text().replace("default: false", "default: true"))
    schema = tmp_path / "config.schema.yaml"  # a threshold default edited by hand
    schema.write_text(schema.read_text().replace("default: 3600\n", "default: 1800\n", 1))
    stale = tmp_path / "rules" / "on_retired_detector.yaml"
    stale.write_text(generate.HEADER + "\n---\nname: on_retired_detector\n")
    stale_action = tmp_path / "actions" / "retired_playbook.yaml"
    stale_action.write_text(generate.HEADER + "\n---\nname: retired_playbook\n")
    hand = tmp_path / "rules" / "alertmanager_webhook.yaml"
    before = hand.read_text()
    expected = ["actions/memory_leak.yaml", "config.schema.yaml", "rules/on_crash_loop.yaml",
                "rules/on_retired_detector.yaml", "actions/retired_playbook.yaml"]
    assert generate.drift(root) == expected
    assert generate.main(["--check", "--root", root]) == 1
    assert sorted(generate.write(root)) == sorted(expected)
    assert generate.drift(root) == [] and not stale.exists() and not stale_action.exists()
    assert hand.read_text() == before
    assert yaml.safe_load(schema.read_text())["detectors"]["properties"]["memory_leak"][
        "properties"]["horizon_s"]["default"] == 3600
    assert generate.main(["--check", "--root", root]) == 0


def test_hand_written_parts_survive_and_lost_markers_are_an_error(tmp_path):
    root = _copy_generated(tmp_path)
    action = tmp_path / "actions" / "run_playbook.yaml"
    text = action.read_text().replace("Run a playbook by hand", "Run a playbook manually")
    action.write_text(text)
    assert generate.drift(root) == []  # the description is hand-written
    action.write_text(text.replace(generate.END + "\n", ""))
    with pytest.raises(generate.GenerateError, match="actions/run_playbook.yaml"):
        generate.render(root)


def test_a_playbook_action_is_generated_whole_with_its_plan_as_description(tmp_path):
    root = _copy_generated(tmp_path)
    action = tmp_path / "actions" / "disk_pressure.yaml"
    action.write_text(action.read_text().replace("Disk pressure on a node.", "Reworded."))
    assert generate.drift(root) == ["actions/disk_pressure.yaml"]
    generate.write(root)
    meta = yaml.safe_load(action.read_text())
    assert meta["description"] == catalogue.BY_NAME["disk_pressure"].plan
    assert meta["description"].startswith("Disk pressure on a node. Cordon it (low)")


@pytest.mark.parametrize("text", [
    "A plan. Rollback: undo it; #1 then `x` (y).",
    "two  spaces, a trailing space ",
    "- looks like a list item",
    "word " * 40])
def test_prose_reads_back_as_the_same_text(text):
    assert yaml.safe_load(generate.prose("description", text)) == {"description": text}


def test_config_schema_outside_the_detectors_block_is_hand_written(tmp_path):
    root = _copy_generated(tmp_path)
    schema = tmp_path / "config.schema.yaml"
    text = schema.read_text()
    schema.write_text(text.replace("Sensor poll interval in seconds.", "Poll interval (s)."))
    assert generate.drift(root) == []
    schema.write_text(text.replace(generate.BEGIN + "\n", ""))
    with pytest.raises(generate.GenerateError, match="config.schema.yaml"):
        generate.render(root)


def test_a_new_playbook_gets_a_whole_action_file(tmp_path, monkeypatch):
    root = _copy_generated(tmp_path)
    entry = catalogue.DETECTORS[0]._replace(name="inode_pressure", playbook="inode_pressure")
    monkeypatch.setattr(catalogue, "DETECTORS", catalogue.DETECTORS + (entry,))
    monkeypatch.setattr(catalogue, "BY_NAME", dict(catalogue.BY_NAME, inode_pressure=entry))
    monkeypatch.setattr(catalogue, "PLAYBOOKS", catalogue.PLAYBOOKS + (
        catalogue.Playbook("inode_pressure", detector="inode_pressure",
                           description="Inode pressure: free inodes."),))
    rendered = generate.render(root)
    assert rendered["actions/inode_pressure.yaml"].startswith(generate.HEADER + "\n---\n")
    meta = yaml.safe_load(rendered["actions/inode_pressure.yaml"])
    assert meta["entry_point"] == "workflows/inode_pressure.yaml"
    assert meta["description"] == "Inode pressure: free inodes."
    assert list(meta["parameters"]) == [name for name, _ in generate.COMMON_PARAMETERS]
    rule = yaml.safe_load(rendered["rules/on_inode_pressure.yaml"])
    assert rule["action"]["ref"] == "self_healing.inode_pressure"
    assert "policies/inode_pressure_concurrency.yaml" in rendered


def test_the_python_places_read_the_catalogue():
    names = tuple(d.name for d in catalogue.DETECTORS)
    assert config.DETECTORS == names and signals.DETECTORS == names
    assert list(REGISTRY) == list(names)
    for entry in catalogue.DETECTORS:
        assert (REGISTRY[entry.name].name, REGISTRY[entry.name].kind) == (entry.name, entry.kind)
    assert diagnosis.PLAYBOOK_BY_DETECTOR == {d.name: d.playbook for d in catalogue.DETECTORS}
    assert set(policy.KNOWN_PLAYBOOKS) == {d.playbook for d in catalogue.DETECTORS} | {
        p.name for p in catalogue.EXTRA_PLAYBOOKS}
    assert set(diagnosis.CAUSE_RANK) == set(names)
    assert set(diagnosis.SYMPTOMS) <= set(diagnosis.NODE_LOSS_SYMPTOMS) <= set(names)


def test_every_entry_is_complete():
    for entry in catalogue.DETECTORS:
        assert entry.kind in catalogue.SIGNAL_KINDS and entry.min_severity in catalogue.SEVERITIES
        assert entry.trigger and entry.rule and entry.recovery, entry.name
        assert os.path.isfile(os.path.join(REPO, "actions", "lib", "detectors",
                                           entry.implementation.split(".")[0] + ".py"))
    for playbook in catalogue.PLAYBOOKS:
        assert playbook.detector in catalogue.BY_NAME and playbook.description, playbook.name
        assert os.path.isfile(os.path.join(REPO, "actions", "workflows", playbook.name + ".yaml"))
    assert len(set(catalogue.PLAYBOOK_NAMES)) == len(catalogue.PLAYBOOK_NAMES)
    ranks = [d.cause_rank for d in catalogue.DETECTORS]
    assert len(set(ranks)) == len(ranks)
    with pytest.raises(KeyError, match="unknown detector 'nope'"):
        catalogue.detector("nope")


def test_the_config_schema_holds_each_detectors_thresholds_from_the_catalogue():
    with open(os.path.join(REPO, "config.schema.yaml")) as handle:
        sections = yaml.safe_load(handle)["detectors"]["properties"]
    assert list(sections) == list(catalogue.DETECTOR_NAMES)
    defaults = config.defaults()["detectors"]
    for entry in catalogue.DETECTORS:
        section = sections[entry.name]
        assert section["description"] == entry.summary
        assert section["properties"]["enabled"]["default"] is True, entry.name
        assert list(section["properties"]) == ["enabled"] + list(entry.thresholds)
        for field, prop in entry.thresholds.items():
            assert section["properties"][field] == prop, (entry.name, field)
            assert defaults[entry.name][field] == prop["default"], (entry.name, field)


def test_the_twins_ground_truth_names_only_catalogue_detectors():
    from twin.scenario import DETECTORS as TWIN_DETECTORS
    assert set(TWIN_DETECTORS) <= set(catalogue.DETECTOR_NAMES)


def test_the_payload_carries_the_target_key_and_it_must_match_the_target():
    sig = Signal("crash_loop", make_target("Pod", "Web-1", "Production"), "high", 1.0, 2.0, "s")
    payload = sig.to_dict()
    assert payload["target_key"] == "pod.production.web-1" == sig.target_key
    assert catalogue.target_key("ConfigMap", "", "a/b") == "configmap._.a.b"
    payload["target_key"] = "pod.production.other"
    with pytest.raises(ValueError, match="target_key"):
        validate_payload(payload)
    del payload["target_key"]  # a hand-made payload may leave it out
    assert validate_payload(payload).target_key == "pod.production.web-1"


def test_rules_pass_the_target_key_through():
    for entry in catalogue.DETECTORS:
        with open(os.path.join(REPO, "rules", "on_%s.yaml" % entry.name)) as handle:
            rule = yaml.safe_load(handle)
        assert rule["action"]["parameters"]["target_key"] == "{{ trigger.target_key }}"


def test_runtime_code_never_imports_the_generator():
    for folder in ("actions", "sensors"):
        for dirpath, _, files in os.walk(os.path.join(REPO, folder)):
            for name in files:
                if not name.endswith(".py"):
                    continue
                with open(os.path.join(dirpath, name)) as handle:
                    tree = ast.parse(handle.read())
                for node in ast.walk(tree):
                    modules = ([a.name for a in node.names] if isinstance(node, ast.Import)
                               else [node.module or ""] if isinstance(node, ast.ImportFrom)
                               else [])
                    assert not any(m.split(".")[0] == "tools" for m in modules), name


def test_make_generate_runs_the_generator_on_python_38():
    out = subprocess.run(["make", "-n", "-C", REPO, "generate"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True)
    assert out.returncode == 0, out.stdout
    assert ".venv38/bin/python -m tools.generate" in out.stdout

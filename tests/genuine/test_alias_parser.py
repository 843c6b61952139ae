"""Every alias format and every `!heal ...` command the pack shows users (README, docs, rule
and alias messages) through StackStorm's own alias matching and parameter extraction, and the
stand-in parser (engine/st2_standin, used on the 3.8/3.11 tracks) agreeing with it."""
import glob
import importlib.util
import itertools
import os
import re

import pytest

pytest.importorskip("st2common.models.api.action",
                    reason="needs genuine StackStorm st2common (run `make test-st2`)")

from genuine_pack import REPO_ROOT, load, metadata_files  # noqa: E402
from st2common.exceptions.content import ParseException  # noqa: E402
from st2common.models.api.action import ActionAliasAPI  # noqa: E402
from st2common.models.utils import action_alias_utils as genuine  # noqa: E402
from st2common.util.actionalias_matching import (list_format_strings_from_aliases,  # noqa: E402
                                                 match_command_to_alias)

pytestmark = pytest.mark.genuine

INC = "inc-20261128-031722-ab12"
INQ = "5f1e2d3c4b5a69788766aa01"
# Sample values for the placeholders the docs use (`<incident>`, `{{ trigger.id }}`, N, ...).
SAMPLES = {"incident": INC, "id": INQ, "trigger.id": INQ, "playbook": "memory_pressure_node",
           "name": "gke-prod-pool-1-abc123", "reason": "release freeze until monday", "N": "7",
           "execution.result.output.incident_id": INC}
DOC_FILES = ["README.md"] + sorted(glob.glob(os.path.join(REPO_ROOT, "docs", "*.md"))) + [
    os.path.join(REPO_ROOT, rel) for kind in ("rules", "aliases", "actions")
    for rel in metadata_files(kind)]

# As st2 stores them (ActionAliasDB), which is what its matching and extraction take.
ALIASES = [ActionAliasAPI.to_model(ActionAliasAPI(**load(rel)))
           for rel in metadata_files("aliases")]


def _load_standin_parser():
    path = os.path.join(REPO_ROOT, "engine", "st2_standin", "st2common", "models", "utils",
                        "action_alias_utils.py")
    spec = importlib.util.spec_from_file_location("standin_action_alias_utils", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


STANDIN = _load_standin_parser()


def documented_templates():
    """Every backticked `!heal ...` in the docs and metadata, as written."""
    found = set()
    for path in DOC_FILES:
        with open(os.path.join(REPO_ROOT, path)) as handle:
            found.update(re.findall(r"`!(heal [^`]+)`", handle.read()))
    return sorted(found)


def expand(template):
    """Concrete commands of a documented template: `[x]` with and without, `a|b` each,
    `<name>`/`{{ name }}`/`N` replaced by a sample value."""
    text = re.sub(r"\{\{\s*([\w.]+)\s*\}\}", lambda m: SAMPLES[m.group(1)], template)
    text = re.sub(r"<(\w+)>", lambda m: SAMPLES[m.group(1)], text)
    text = re.sub(r"\bN\b", SAMPLES["N"], text)
    parts = re.split(r"(\[[^\]]*\])", text)
    choices = [["", p[1:-1]] if p.startswith("[") else [p] for p in parts]
    commands = set()
    for combo in itertools.product(*choices):
        words = " ".join("".join(combo).split()).split(" ")
        alternatives = [w.split("|") if "|" in w else [w] for w in words]
        commands.update(" ".join(c) for c in itertools.product(*alternatives))
    return sorted(commands)


DOC_COMMANDS = sorted({c for t in documented_templates() for c in expand(t)})


def test_docs_show_commands_for_every_alias():
    assert len(documented_templates()) >= 10
    hit = {m["alias"].name for c in DOC_COMMANDS for m in match_command_to_alias(c, ALIASES)}
    assert hit == {a.name for a in ALIASES}, sorted({a.name for a in ALIASES} - hit)


@pytest.mark.parametrize("command", DOC_COMMANDS)
def test_documented_command_matches_exactly_one_alias(command):
    matches = match_command_to_alias(command, ALIASES)
    assert len({m["alias"].name for m in matches}) == 1, (command, [
        (m["alias"].name, m["representation"]) for m in matches])
    alias = matches[0]["alias"]
    params = genuine.extract_parameters_for_action_alias_db(
        alias, matches[0]["representation"], command)
    for value in params.values():
        assert value != "" and value is not None, (command, params)


@pytest.mark.parametrize("alias", ALIASES, ids=lambda a: a.name)
def test_every_format_parses_its_own_display_form(alias):
    formats = list_format_strings_from_aliases([alias])
    assert formats, alias.name
    for fmt in formats:
        command = re.sub(r"\{\{\s*(\w+)(?:=[^}]*)?\s*\}\}", lambda m: "v-" + m.group(1),
                         fmt["representation"])
        params = genuine.extract_parameters(format_str=fmt["representation"],
                                            param_stream=command)
        required = re.findall(r"\{\{\s*(\w+)\s*\}\}", fmt["representation"])
        assert {k: params[k] for k in required} == {k: "v-" + k for k in required}, fmt


def _both(format_str, command):
    """(genuine, stand-in) result of extract_parameters: a dict or 'ParseException'."""
    out = []
    for parser in (genuine, STANDIN):
        try:
            out.append(parser.extract_parameters(format_str=format_str, param_stream=command))
        except ParseException:
            out.append("ParseException")
    return tuple(out)


def _format_command_pairs():
    pairs = set()
    for alias in ALIASES:
        for fmt in list_format_strings_from_aliases([alias]):
            for command in DOC_COMMANDS:
                pairs.add((fmt["representation"], command))
    return sorted(pairs)


def test_standin_parser_agrees_with_st2_on_every_format_and_documented_command():
    pairs = _format_command_pairs()
    assert len(pairs) > 100
    disagree = [(f, c, _both(f, c)) for f, c in pairs if _both(f, c)[0] != _both(f, c)[1]]
    assert not disagree, disagree[:5]


def test_genuine_parser_rejects_what_it_should():
    with pytest.raises(ParseException):
        genuine.extract_parameters(format_str="heal show {{incident_id}}",
                                   param_stream="heal status")
    assert match_command_to_alias("heal nonsense", ALIASES) == []

"""Base test case for ChatOps action aliases (stand-in)."""
import json
import os

import yaml

from st2common.exceptions.content import ParseException
from st2common.models.utils.action_alias_utils import (
    extract_parameters,
    extract_parameters_for_action_alias_db,
)
from st2tests.pack_resource import BasePackResourceTestCase

__all__ = ["BaseActionAliasTestCase"]

# StackStorm's ActionAlias schema (ActionAliasAPI): the keys it allows and the ones it requires
# (`pack` is filled in from the pack first). tests/genuine checks these against the real schema.
ALIAS_PROPERTIES = ("ack", "action_ref", "description", "enabled", "extra", "formats", "id",
                    "immutable_parameters", "metadata_file", "name", "pack", "ref", "result",
                    "uid")
ALIAS_REQUIRED = ("name", "pack", "action_ref")


def validate_alias(pack, metadata, path):
    """Reject an alias file as StackStorm's registrar does (a ValueError naming the problem)."""
    if not isinstance(metadata, dict):
        raise ValueError("%s: an alias must be a mapping" % path)
    if metadata.get("pack") and metadata["pack"] != pack:
        raise ValueError('Model is in pack "%s" but field "pack" is different: %s'
                         % (pack, metadata["pack"]))
    content = dict(metadata, pack=pack)
    unknown = sorted(set(content) - set(ALIAS_PROPERTIES))
    if unknown:
        raise ValueError("%s: Additional properties are not allowed (%s unexpected)"
                         % (path, ", ".join(repr(k) for k in unknown)))
    for key in ALIAS_REQUIRED:
        if not content.get(key):
            raise ValueError("%s: '%s' is a required property" % (path, key))
    formats = content.get("formats", [])
    if not isinstance(formats, list) or not all(
            isinstance(f, str) or (isinstance(f, dict) and isinstance(
                f.get("representation", []), list)) for f in formats):
        raise ValueError("%s: formats must be a list of strings or {display, representation}"
                         % path)


class ActionAliasDB(object):
    """The parts of an alias definition the test case needs."""

    def __init__(self, pack, metadata):
        self.pack = metadata.get("pack") or pack
        self.name = metadata.get("name")
        self.ref = "%s.%s" % (self.pack, self.name)
        self.action_ref = metadata.get("action_ref")
        self.formats = metadata.get("formats") or []
        self.immutable_parameters = metadata.get("immutable_parameters") or {}

    def get_format_strings(self):
        """Every format string: plain strings and each dict format's `representation`s."""
        result = []
        for fmt in self.formats:
            if isinstance(fmt, dict) and fmt.get("representation"):
                result.extend(fmt["representation"])
            else:
                result.append(fmt)
        return result


def _load(path):
    with open(path, "r") as handle:
        if path.endswith(".json"):
            return json.load(handle)
        return yaml.safe_load(handle)


class BaseActionAliasTestCase(BasePackResourceTestCase):
    """Set `action_alias_name`; the alias is read from `<pack>/aliases/`."""

    action_alias_name = None
    action_alias_db = None

    def setUp(self):
        super(BaseActionAliasTestCase, self).setUp()
        if not self.action_alias_name:
            raise ValueError('"action_alias_name" class attribute needs to be provided')
        self.action_alias_db = self._get_action_alias_db_by_name(name=self.action_alias_name)

    def assertCommandMatchesExactlyOneFormatString(self, format_strings, command):
        """Fail unless `command` matches exactly one of `format_strings`."""
        matched = []
        for format_string in format_strings:
            try:
                extract_parameters(format_str=format_string, param_stream=command)
            except ParseException:
                continue
            matched.append(format_string)
        if not matched:
            raise AssertionError(
                'Command "%s" didn\'t match any of the provided format strings' % (command,))
        if len(matched) > 1:
            raise AssertionError('Command "%s" matched multiple format strings: %s'
                                 % (command, ", ".join(matched)))

    def assertExtractedParametersMatch(self, format_string, command, parameters):
        """Fail unless `command` parsed with `format_string` (of this alias) gives `parameters`."""
        extracted = extract_parameters_for_action_alias_db(
            action_alias_db=self.action_alias_db, format_str=format_string,
            param_stream=command)
        if extracted != parameters:
            msg = ('Extracted parameters from command string "%s" against format string "%s"'
                   " didn't match the provided parameters: " % (command, format_string))
            try:
                self.assertEqual(extracted, parameters)
            except AssertionError as error:
                msg += str(error)
            raise AssertionError(msg)

    def _get_action_alias_db_by_name(self, name):
        base = self._get_base_pack_path()
        manifest = os.path.join(base, "pack.yaml")
        if os.path.isfile(manifest):
            meta = _load(manifest) or {}
            pack = meta.get("ref") or meta.get("name")
        else:
            pack = os.path.basename(base)
        aliases_dir = os.path.join(base, "aliases")
        if os.path.isdir(aliases_dir):
            for file_name in sorted(os.listdir(aliases_dir)):
                if not file_name.endswith((".yaml", ".yml", ".json")):
                    continue
                path = os.path.join(aliases_dir, file_name)
                metadata = _load(path)
                validate_alias(pack, metadata, path)  # in sorted order up to the match, as st2
                alias = ActionAliasDB(pack, metadata)
                if alias.name == name:
                    return alias
        raise ValueError('Alias with name "%s" not found' % (name,))

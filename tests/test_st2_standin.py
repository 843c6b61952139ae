"""The StackStorm test-interface stand-in behaves as StackStorm documents (and as its own tests
show). Under real StackStorm packages these tests exercise the real implementation instead."""
import os
import shutil

import pytest
from st2common.exceptions.content import ParseException
from st2common.models.utils.action_alias_utils import extract_parameters
from st2common.runners.base_action import Action
from st2reactor.sensor.base import PollingSensor, Sensor
from st2tests.base import BaseActionAliasTestCase, BaseActionTestCase, BaseSensorTestCase

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE_PACK = os.path.join(REPO_ROOT, "tests", "conformance", "fixtures", "standin_pack")


class EchoAction(Action):
    def run(self, **kwargs):
        self.action_service.set_value("last", "x", local=True)
        return kwargs


class Ticker(PollingSensor):
    def setup(self):
        pass

    def poll(self):
        self.sensor_service.dispatch(trigger="self_healing.tick", payload={"n": 1},
                                     trace_tag="t-1")

    def cleanup(self):
        pass

    def add_trigger(self, trigger):
        pass

    def update_trigger(self, trigger):
        pass

    def remove_trigger(self, trigger):
        pass


class TestActionBase(BaseActionTestCase):
    action_cls = EchoAction

    def test_instance_has_config_logger_and_service(self):
        action = self.get_action_instance(config={"mode": "observe"})
        self.assertEqual(action.config["mode"], "observe")
        self.assertIs(action.action_service, self.action_service)
        self.assertTrue(hasattr(action.logger, "info"))
        self.assertEqual(action.run(a=1), {"a": 1})

    def test_missing_config_key_raises_value_error_naming_it(self):
        action = self.get_action_instance(config={})
        with self.assertRaises(ValueError) as caught:
            action.config["prometheus"]
        self.assertIn('missing key "prometheus"', str(caught.exception))
        self.assertIsNone(action.config.get("prometheus"))

    def test_datastore_local_and_global_names(self):
        svc = self.action_service
        svc.set_value("k", "local-v")  # local=True is the default
        svc.set_value("self_healing.k", "global-v", local=False)
        self.assertEqual(svc.get_value("k"), "local-v")
        self.assertIsNone(svc.get_value("k", local=False))
        self.assertEqual(svc.get_value("self_healing.k", local=False), "global-v")
        local_names = [kvp.name for kvp in svc.list_values(local=True)]
        self.assertEqual(local_names, ["tests.EchoAction:k"])
        self.assertEqual([kvp.name for kvp in svc.list_values(local=False, prefix="self_")],
                         ["self_healing.k"])
        self.assertEqual(len(svc.list_values(local=False)), 2)

    def test_datastore_ttl_recorded_and_delete(self):
        svc = self.action_service
        self.assertTrue(svc.set_value("a", "1", ttl=60, local=False))
        (item,) = svc.list_values(local=False, prefix="a")
        self.assertEqual(item.ttl, 60)
        self.assertTrue(svc._logger.warning.called)
        self.assertTrue(svc.delete_value("a", local=False))
        self.assertFalse(svc.delete_value("a", local=False))
        self.assertIsNone(svc.get_value("a", local=False))

    def test_action_is_abstract_without_run(self):
        class NoRun(Action):
            pass

        with self.assertRaises(TypeError):
            NoRun()


class TestSensorBase(BaseSensorTestCase):
    sensor_cls = Ticker

    def test_poll_interval_and_config(self):
        sensor = self.get_sensor_instance(config={"a": 1}, poll_interval=7)
        self.assertEqual(sensor.get_poll_interval(), 7)
        sensor.set_poll_interval(3)
        self.assertEqual(sensor.get_poll_interval(), 3)
        self.assertEqual(sensor.config, {"a": 1})
        self.assertEqual(self.get_sensor_instance().get_poll_interval(), 5)
        self.assertEqual(self.get_sensor_instance().config, {})

    def test_dispatch_recorded_and_asserted(self):
        sensor = self.get_sensor_instance()
        sensor.poll()
        (item,) = self.get_dispatched_triggers()
        self.assertEqual(item["trigger"], "self_healing.tick")
        self.assertEqual(item["trace_context"].trace_tag, "t-1")
        self.assertIs(self.get_last_dispatched_trigger(), item)
        self.assertTrue(self.assertTriggerDispatched("self_healing.tick", payload={"n": 1}))
        with self.assertRaises(AssertionError):
            self.assertTriggerDispatched("self_healing.tick", payload={"n": 2})
        with self.assertRaises(AssertionError):
            self.assertTriggerDispatched("self_healing.other")

    def test_sensor_datastore_and_logger(self):
        svc = self.sensor_service
        svc.set_value("self_healing.x", "1", local=False)
        self.assertEqual(svc.get_value("self_healing.x", local=False), "1")
        svc.get_logger("Ticker").info("hello")
        svc.get_logger("Ticker").info.assert_called_with("hello")

    def test_sensor_bases_are_abstract(self):
        with self.assertRaises(TypeError):
            Sensor(sensor_service=None)
        with self.assertRaises(TypeError):
            PollingSensor(sensor_service=None)


class FixturePackAliasTestCase(BaseActionAliasTestCase):
    """Alias test case rooted at a fixture pack instead of this repository."""

    action_alias_name = "restart_pod"

    def _get_base_pack_path(self):
        return FIXTURE_PACK


class TestAliasBase(FixturePackAliasTestCase):
    def test_alias_loaded_with_all_format_strings(self):
        self.assertEqual(self.action_alias_db.name, "restart_pod")
        self.assertEqual(self.action_alias_db.get_format_strings(),
                         ["restart pod {{pod}} in {{namespace=default}}",
                          "bounce {{pod}}", "kick {{pod}}"])

    def test_command_matches_exactly_one(self):
        formats = self.action_alias_db.get_format_strings()
        self.assertCommandMatchesExactlyOneFormatString(formats, "bounce web-1")
        with self.assertRaises(AssertionError):
            self.assertCommandMatchesExactlyOneFormatString(formats, "reboot web-1")
        with self.assertRaises(AssertionError):
            self.assertCommandMatchesExactlyOneFormatString(["bounce {{pod}}", "{{x}} web-1"],
                                                            "bounce web-1")

    def test_extracted_parameters(self):
        self.assertExtractedParametersMatch(
            "restart pod {{pod}} in {{namespace=default}}", "restart pod web-1 in prod",
            {"pod": "web-1", "namespace": "prod"})
        self.assertExtractedParametersMatch(
            "restart pod {{pod}} in {{namespace=default}}", "restart pod web-1 in",
            {"pod": "web-1", "namespace": "default"})
        with self.assertRaises(AssertionError):
            self.assertExtractedParametersMatch("bounce {{pod}}", "bounce web-1", {"pod": "x"})
        with self.assertRaises(ValueError):
            self.assertExtractedParametersMatch("not a format", "x", {})


def test_alias_case_requires_name_and_existing_alias():
    class Nameless(FixturePackAliasTestCase):
        action_alias_name = None

        def runTest(self):
            pass

    class Missing(FixturePackAliasTestCase):
        action_alias_name = "nope"

        def runTest(self):
            pass

    with pytest.raises(ValueError, match="action_alias_name"):
        Nameless().setUp()
    with pytest.raises(ValueError, match='Alias with name "nope" not found'):
        Missing().setUp()


@pytest.mark.parametrize("bad, message", [
    ("action_ref: x.y\nformats: [go]\nactoin: typo\n", "actoin"),
    ("name: bad\nformats: [go]\n", "action_ref"),
    ("name: bad\npack: other_pack\naction_ref: x.y\n", "other_pack")])
def test_alias_case_validates_the_alias_files_it_reads(tmp_path, bad, message):
    """Like StackStorm's registrar, an invalid alias file read before the wanted one (files are
    read in sorted order) fails the alias test case."""
    pack = tmp_path / "fixture_pack"
    shutil.copytree(FIXTURE_PACK, str(pack))
    (pack / "aliases" / "aa_bad.yaml").write_text("---\n" + (
        "" if bad.startswith("name:") else "name: aa_bad\n") + bad)

    class Broken(FixturePackAliasTestCase):
        def _get_base_pack_path(self):
            return str(pack)

        def runTest(self):
            pass

    with pytest.raises(Exception, match=message):
        Broken().setUp()


def test_pack_root_is_parent_of_test_directory():
    class Probe(BaseActionTestCase):
        action_cls = EchoAction

        def runTest(self):
            pass

    assert Probe()._get_base_pack_path() == REPO_ROOT


# Cases StackStorm's own unit tests establish for alias parameter extraction.
EXTRACTION_CASES = [
    ("", "", {}),
    ("", "a=foobar1", {"a": "foobar1"}),
    ("foo", 'foo a="foobar2 poonies bar"', {"a": "foobar2 poonies bar"}),
    ("foo", "foo a='foobar2 poonies bar'", {"a": "foobar2 poonies bar"}),
    ("foo", 'foo a={"foobar2": "poonies"}', {"a": '{"foobar2": "poonies"}'}),
    ("", 'a=foobar1 b="boobar2 3 4" c=\'coobar3 4\' d={"a": "b"}',
     {"a": "foobar1", "b": "boobar2 3 4", "c": "coobar3 4", "d": '{"a": "b"}'}),
    ("{{ captain }} is my captain", 'Malcolm Reynolds is my captain weirdo="River Tam"',
     {"captain": "Malcolm Reynolds", "weirdo": "River Tam"}),
    ("skip {{a}} more skip {{b}} and skip more.", "skip a1 more skip b1 and skip more.",
     {"a": "a1", "b": "b1"}),
    ("skip {{a}} more skip {{b}}", "skip a1 more skip b1", {"a": "a1", "b": "b1"}),
    ("skip {{a}} more skip {{b}} and skip more.", 'skip "a1 a2" more skip b1 and skip more.',
     {"a": "a1 a2", "b": "b1"}),
    ("acl {{a}} {{b}} {{c}} {{d=1}}", 'acl "a1 a2" "b1" "c1"',
     {"a": "a1 a2", "b": "b1", "c": "c1", "d": "1"}),
    ("acl {{a=test}}", "acl", {"a": "test"}),
    ("skip {{a}} more skip.", 'skip {"a": "b", "c": "d"} more skip.',
     {"a": '{"a": "b", "c": "d"}'}),
    ("s {{a}} more {{ b }} more {{ c=99 }} more {{ d = 99 }}",
     "s one more two more three more", {"a": "one", "b": "two", "c": "three", "d": "99"}),
    ("skip {{ a = value }} more", "skip one more", {"a": "one"}),
    ("skip {{ a = value }} more", "skip more", {"a": "value"}),
    ("two by two hands of {{ color = {{ colors.default_color }} }}", "two by two hands of",
     {"color": "{{ colors.default_color }}"}),
    ("testing {{ a }}", "testing value b=value2", {"a": "value", "b": "value2"}),
    ("testing {{ a=new }}", 'testing b="another value"', {"a": "new", "b": "another value"}),
    ("testing {{ b=abc }} {{ c=xyz }}", 'testing newvalue d={"1": "2"} e="long value"',
     {"b": "newvalue", "c": "xyz", "d": '{"1": "2"}', "e": "long value"}),
    ("skip {{d=test1}} more skip {{e=test1}}.", "skip more skip", {"d": "test1", "e": "test1"}),
    ("skip {{d=test}} more skip {{e=test}}", "skip ponies more skip",
     {"d": "ponies", "e": "test"}),
    ("{{ p0='http' }} g {{ p1=p }} a {{ url }} {{ p2={'a':'b'} }} {{ p3={{ e.i }} }}",
     "g a http://google.com {{ execution.id }} p4='testing' p5={'a':'c'}",
     {"p0": "http", "p1": "p", "url": "http://google.com", "p2": "{{ execution.id }}",
      "p3": "{{ e.i }}", "p4": "testing", "p5": "{'a':'c'}"}),
    ("foo bar", "foo bar pony1=foo pony2=bar", {"pony1": "foo", "pony2": "bar"}),
    (r"^\s*foo (?P<issue_key>[A-Z][A-Z0-9]+-[0-9]+)", "foo ASDF-1234",
     {"issue_key": "ASDF-1234"}),
    (r"foo (?P<issue_key>[A-Z][A-Z0-9]+-[0-9]+)\s*$", "foo ASDF-1234",
     {"issue_key": "ASDF-1234"}),
]


@pytest.mark.parametrize("format_str,command,expected", EXTRACTION_CASES)
def test_extract_parameters(format_str, command, expected):
    assert extract_parameters(format_str=format_str, param_stream=command) == expected


@pytest.mark.parametrize("format_str,command", [
    ("foo bar ponies", "foo lulz ponies"),
    ("skip {{d}} more skip {{e}}.", None),
    (r"^\s*foo (?P<issue_key>[A-Z][A-Z0-9]+-[0-9]+)", "bar foo ASDF-1234"),
    (r"foo (?P<issue_key>[A-Z][A-Z0-9]+-[0-9]+)\s*$", "foo ASDF-1234 bar"),
    ("cordon {{node}}", "uncordon node-1 now"),
])
def test_extract_parameters_rejects(format_str, command):
    with pytest.raises(ParseException, match="doesn't match format string"):
        extract_parameters(format_str=format_str, param_stream=command)

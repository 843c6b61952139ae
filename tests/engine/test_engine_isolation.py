"""Python actions and sensors run as StackStorm runs them: own process, eventlet-patched."""
import os
import textwrap
import time

from engine import actions as ex
from engine.datastore import Datastore
from engine.pack import Pack
from engine.sensors import SensorContainer

PATCHED = {name: True for name in ("os", "select", "socket", "thread", "time")}


def test_an_action_runs_in_its_own_eventlet_patched_process(action_runner):
    execution = action_runner.run("fixture.probe", {})
    assert execution.status == ex.SUCCEEDED, execution.result
    seen = execution.result["result"]
    assert seen["pid"] != os.getpid()
    assert seen["patched"] == PATCHED
    assert seen["socket_class"] == "eventlet.greenio.base.GreenSocket"
    assert seen["lock_class"].startswith("eventlet")
    assert seen["execution_id"] == execution.id
    assert execution.result["stdout"] == "to stdout %d\n" % seen["pid"]
    assert execution.result["stderr"] == "to stderr\n"
    assert execution.result["exit_code"] == 0
    again = action_runner.run("fixture.probe", {})
    assert again.result["result"]["pid"] != seen["pid"]  # a fresh process per execution


def test_a_hung_action_is_killed_at_its_timeout(action_runner):
    started = time.monotonic()
    execution = action_runner.run("fixture.probe", {"hang_s": 60, "timeout": 1})
    assert time.monotonic() - started < 30
    assert execution.status == ex.TIMEOUT
    assert execution.result["error"] == "Action failed to complete in 1 seconds"
    assert execution.result["exit_code"] == -9
    pid = int(execution.result["stdout"].split()[-1])
    try:
        os.kill(pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive


def test_the_timeout_counts_virtual_time_slept(action_runner, clock):
    start = clock.now()
    execution = action_runner.run("fixture.waiter", {"key": "k", "seconds": 100,
                                                     "timeout": 40})
    assert execution.status == ex.TIMEOUT
    assert 39 <= clock.now() - start <= 40  # killed in the middle of its sleep


def test_an_exception_is_a_failed_execution_with_the_traceback(action_runner):
    execution = action_runner.run("fixture.boom", {})
    assert execution.status == ex.FAILED
    assert execution.result["error"] == "RuntimeError: kaboom"
    assert "boom.py" in execution.result["traceback"]
    assert "raise RuntimeError(\"kaboom\")" in execution.result["traceback"]
    assert execution.result["exit_code"] == 1 and execution.result["result"] is None


def test_a_crashed_process_is_a_failed_execution(action_runner):
    execution = action_runner.run("fixture.probe", {"crash": True})
    assert execution.status == ex.FAILED
    assert execution.result["exit_code"] == 3
    assert "without returning a result" in execution.result["error"]
    assert execution.result["stderr"] == "to stderr\n"


SENSOR = '''
import os
import socket

import eventlet.patcher
from st2reactor.sensor.base import PollingSensor


class ProbeSensor(PollingSensor):
    def setup(self):
        self.sensor_service.set_value("setup_pid", str(os.getpid()))

    def poll(self):
        self.sensor_service.dispatch(trigger="probe.report", payload={
            "pid": os.getpid(), "socket_class": socket.socket.__module__,
            "patched": {name: eventlet.patcher.is_monkey_patched(name)
                        for name in ("os", "select", "socket", "thread", "time")},
            "setup_pid": self.sensor_service.get_value("setup_pid")})

    def cleanup(self):
        self.sensor_service.set_value("cleaned", "yes", local=False)

    def add_trigger(self, trigger):
        pass

    def update_trigger(self, trigger):
        pass

    def remove_trigger(self, trigger):
        pass
'''


def test_the_sensor_runs_in_its_own_eventlet_patched_process(tmp_path, clock):
    (tmp_path / "pack.yaml").write_text("ref: probe\nname: probe\n")
    (tmp_path / "actions").mkdir()
    sensors = tmp_path / "sensors"
    sensors.mkdir()
    (sensors / "probe_sensor.py").write_text(textwrap.dedent(SENSOR))
    (sensors / "probe_sensor.yaml").write_text(
        "class_name: ProbeSensor\nentry_point: probe_sensor.py\npoll_interval: 10\n"
        "trigger_types:\n  - name: report\n    payload_schema: {type: object}\n")
    store = Datastore(clock.now)
    seen = []
    container = SensorContainer(Pack(str(tmp_path)), {}, store,
                                lambda trigger, payload, tag: seen.append((trigger, payload)),
                                clock.now)
    container.start()
    assert container.load_errors == []
    assert container.poll_due() == 1
    clock.advance(10)
    assert container.poll_due() == 1
    container.stop()
    assert [trigger for trigger, _ in seen] == ["probe.report", "probe.report"]
    report = seen[0][1]
    assert report["pid"] != os.getpid() and report["pid"] == seen[1][1]["pid"]
    assert report["patched"] == PATCHED
    assert report["socket_class"].startswith("eventlet")
    assert report["setup_pid"] == str(report["pid"])
    assert store.get_value("cleaned") == "yes"


def test_the_packs_detector_sensor_polls_patched_and_reports_dead_sources(clock):
    """Its thread pool (green threads there), requests and the kubernetes client under
    eventlet: both sources down -> one sensor_degraded trigger each, the sensor lives on."""
    pack = Pack()
    config = pack.config({"prometheus": {"url": "http://127.0.0.1:9", "timeout_s": 1},
                          "kubernetes": {"kubeconfig": "/nonexistent", "in_cluster": False}})
    seen = []
    container = SensorContainer(pack, config, Datastore(clock.now),
                                lambda trigger, payload, tag: seen.append((trigger, payload)),
                                clock.now)
    container.start()
    try:
        assert container.load_errors == []
        assert container.poll_due() == 1
        assert sorted((t, p["source"]) for t, p in seen) == [
            ("self_healing.sensor_degraded", "kubernetes"),
            ("self_healing.sensor_degraded", "prometheus")]
        clock.advance(container.sensors[0].interval)
        assert container.poll_due() == 1
        assert len(seen) == 2  # once per outage
        assert container.sensors[0].errors == []
    finally:
        container.stop()

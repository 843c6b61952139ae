"""Virtual clock, scenario time placement, determinism and the `python -m twin` runner."""
import datetime
import os
import subprocess
import sys

import pytest

from twin.clock import VirtualClock, iso, next_time_of_day, rounded_future_start
from twin.world import REPO_ROOT, World


def test_virtual_clock_moves_only_forward_in_steps():
    clock = VirtualClock(1000.0, step_s=15)
    assert clock.now() == 1000.0
    assert clock.tick() == 1015.0
    assert clock.advance(5) == 1020.0
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.set(10.0)
    assert clock.utcnow() == datetime.datetime.fromtimestamp(1020, datetime.timezone.utc)
    assert iso(0) == "1970-01-01T00:00:00Z"


def test_onset_time_of_day_lands_after_real_now_with_room_for_history():
    now = datetime.datetime(2026, 11, 28, 2, 26, 51, tzinfo=datetime.timezone.utc).timestamp()
    onset = next_time_of_day("03:17:22", not_before=now, lead_s=80 * 60)
    assert iso(onset) == "2026-11-29T03:17:22Z"  # 01:57 today would be in the past
    onset = next_time_of_day("03:17:22", not_before=now, lead_s=30 * 60)
    assert iso(onset) == "2026-11-28T03:17:22Z"
    assert rounded_future_start(now) == now - (now % 3600) + 3600


def test_same_seed_same_world():
    def run():
        world = World.from_scenario("crash-loop-bad-deploy", start_prometheus=False,
                                    start_nats=False,
                                    not_before=1900000000.0)
        try:
            world.start()
            world.run_until(world.onset_epoch + 300)
            pods = sorted(p["metadata"]["name"] for p in world.store.list("pods")[0])
            return pods, world.key_metric_series()
        finally:
            world.stop()
    assert run() == run()


def test_python_m_twin_prints_connection_details_and_stops_at_end():
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    out = subprocess.run(
        [sys.executable, "-m", "twin", "--scenario", "benign-steady-state", "--step-every", "0",
         "--stop-at-end"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "kubeconfig (pack): " in out.stdout and "kubeconfig-pack.yaml" in out.stdout
    assert "prometheus:        http://127.0.0.1:" in out.stdout
    assert "nats:              nats://127.0.0.1:" in out.stdout


def test_realtime_world_tracks_the_wall_clock():
    import time
    world = World.from_scenario("benign-steady-state", start_prometheus=False,
                                start_nats=False, realtime=True)
    try:
        world.start()
        assert abs(world.clock.now() - time.time()) < 3
        assert world.onset_epoch - world.clock.now() == pytest.approx(
            world.scenario.lead_s, abs=2)
        world.run_until(time.time() + 15)
        assert world.steps > 0 and world.event_errors == []
    finally:
        world.stop()

"""lib.symptom_watch: how long a young symptom is watched, and what the watch concludes."""
from collections import namedtuple

import pytest

from lib import clock, symptom_watch
from support.healing_fakes import T0, FixedClock

Sample = namedtuple("Sample", "value")


@pytest.fixture
def fixed():
    fake = FixedClock(T0).install()
    yield fake
    clock.reset()


def series(fixed, value_at):
    """A query function answering `value_at(seconds since T0)` as one series."""
    return lambda query: [Sample(value_at(fixed.t - T0))]


def test_window_runs_until_the_symptom_is_as_old_as_its_persistence():
    assert symptom_watch.watch_window_s(120, T0, T0 + 30, 60) == 90
    # never shorter than a clearing's hold while any window is left
    assert symptom_watch.watch_window_s(120, T0, T0 + 100, 60) == 60
    assert symptom_watch.watch_window_s(120, T0, T0 + 120, 60) == 0
    assert symptom_watch.watch_window_s(120, T0, T0 + 500, 60) == 0
    # an unknown onset watches the full persistence
    assert symptom_watch.watch_window_s(120, None, T0, 60) == 120


def test_a_burst_that_heals_clears_without_waiting_out_the_window(fixed):
    result = symptom_watch.watch(series(fixed, lambda s: 0.2 if s < 30 else 0.01), "q", 0.05,
                                 for_s=300, first_detected=T0, hold_s=60, poll_s=15)
    assert result["state"] == "cleared"
    assert result["window_s"] == 300
    # first below the threshold at 30 s, held 60 s: ends at 90 s, not at 300 s
    assert result["watched_s"] == 90
    assert "cleared by itself" in result["reason"]


def test_a_lasting_symptom_persists_once_the_window_is_spent(fixed):
    result = symptom_watch.watch(series(fixed, lambda s: 0.2), "q", 0.05, for_s=120,
                                 first_detected=T0 - 40, hold_s=60, poll_s=15)
    assert result["state"] == "persists"
    assert result["watched_s"] == 80
    assert result["value"] == 0.2


def test_a_dip_shorter_than_the_hold_is_not_a_clearing(fixed):
    result = symptom_watch.watch(series(fixed, lambda s: 0.01 if 15 <= s < 45 else 0.2), "q",
                                 0.05, for_s=120, first_detected=T0, hold_s=60, poll_s=15)
    assert result["state"] == "persists"


def test_an_old_symptom_is_not_watched_at_all(fixed):
    calls = []
    result = symptom_watch.watch(lambda q: calls.append(q) or [Sample(0.0)], "q", 0.05,
                                 for_s=120, first_detected=T0 - 600, hold_s=60)
    assert result["state"] == "persists" and result["watched_s"] == 0
    assert calls == [] and fixed.t == T0


def test_prometheus_silence_is_blind_never_cleared(fixed):
    def down(query):
        raise ConnectionError("connection refused")

    result = symptom_watch.watch(down, "q", 0.05, for_s=120, first_detected=T0, hold_s=0,
                                 poll_s=15)
    assert result["state"] == "blind"
    assert "connection refused" in result["reason"]

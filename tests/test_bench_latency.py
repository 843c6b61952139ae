"""bench: detection latency of predictive detectors counts from when their condition became
actionable; the headline mixes it with the symptom detectors' latency from first_detected."""
import pytest

from bench import corpus
from bench import scenarios as bench_scenarios
from lib import clock

T = 1795835842.0
CONFIG = {"detectors": {"memory_leak": {"horizon_s": 3600},
                        "certificate_expiry": {"days": 14}}}


def _trigger(detector, first_ago_s, **metadata):
    return {"at": T, "payload": {"detector": detector, "metadata": metadata,
                                 "first_detected": clock.isoformat(T - first_ago_s)}}


def test_a_leak_counts_from_when_its_runway_fell_below_the_horizon():
    # growth began 40 min ago; 50 min of runway left at the trigger: the runway crossed the
    # 60 min horizon 10 min before the trigger
    trig = _trigger("memory_leak", 2400, time_to_oom_minutes=50.0)
    row = bench_scenarios._latencies(trig, CONFIG, watching_since=T - 7200)
    assert row["detect_latency_s"] == 2400.0
    assert row["predictive"] is True
    assert row["actionable_latency_s"] == pytest.approx(600.0)
    assert row["headline_latency_s"] == pytest.approx(600.0)


def test_actionable_before_the_pack_watched_counts_from_when_it_started():
    trig = _trigger("certificate_expiry", 5 * 86400, days_left=9.0)
    assert bench_scenarios._actionable_latency(trig, CONFIG, T - 45) == pytest.approx(45.0)
    # and a runway above the threshold (it must have just crossed) is no latency
    trig = _trigger("memory_leak", 600, time_to_oom_minutes=61.0)
    assert bench_scenarios._actionable_latency(trig, CONFIG, T - 900) == 0.0


def test_symptom_detectors_keep_first_detected_and_missing_figures_are_none():
    row = bench_scenarios._latencies(_trigger("error_rate", 25, error_ratio=0.2), CONFIG,
                                     T - 900)
    assert row == {"detect_latency_s": 25.0, "predictive": False,
                   "actionable_latency_s": None, "headline_latency_s": 25.0}
    row = bench_scenarios._latencies(_trigger("memory_leak", 900), CONFIG, T - 900)
    assert row["headline_latency_s"] is None and row["detect_latency_s"] == 900.0
    assert bench_scenarios._latencies(None, CONFIG, T)["headline_latency_s"] is None


def test_corpus_figures_report_symptom_predictive_and_headline_apart():
    rows = [{"kind": "fault", "predictive": False, "detect_latency_s": 20.0,
             "headline_latency_s": 20.0},
            {"kind": "fault", "predictive": False, "detect_latency_s": 40.0,
             "headline_latency_s": 40.0},
            {"kind": "fault", "predictive": True, "detect_latency_s": 3000.0,
             "actionable_latency_s": 30.0, "headline_latency_s": 30.0},
            {"kind": "fault", "detect_latency_s": 50.0}]   # a row from before the split
    fig = corpus.figures(rows)
    assert fig["symptom_latency_s"]["n"] == 3
    assert fig["predictive_latency_s"] == {"p50": 30.0, "p90": 30.0, "n": 1}
    assert fig["headline_latency_s"]["p50"] == 35.0
    assert fig["detect_latency_s"]["p50"] == 45.0

"""lib.curve_fit: a line against an approach to a plateau, on noisy synthetic memory curves."""
import math
import random

import pytest

from lib import curve_fit

MIB = 1024.0 ** 2


def _noisy(rng, value, amplitude=0.004):
    return value * (1 + amplitude * (rng.random() - 0.5))


@pytest.mark.parametrize("tau_min", [5, 15, 40])
@pytest.mark.parametrize("span_min", [16, 30])
def test_warm_ups_plateau_below_the_limit(tau_min, span_min):
    rng = random.Random(tau_min * 100 + span_min)
    base, warm = 400 * MIB, 1200 * MIB
    limit = (base + warm) / 0.75
    points = [(t * 60.0, _noisy(rng, base + warm * (1 - math.exp(-t / tau_min))))
              for t in range(span_min + 1)]
    verdict = curve_fit.judge(points, limit)
    assert verdict["verdict"] == "warmup"
    assert verdict["model"] == "saturating"
    assert verdict["time_to_limit_s"] is None
    assert verdict["asymptote_upper"] == pytest.approx(base + warm, rel=0.08)


@pytest.mark.parametrize("seed", range(20))
def test_leaks_stay_linear_with_the_lines_runway(seed):
    rng = random.Random(seed)
    rate, base, span = rng.uniform(4, 30) * MIB, rng.uniform(200, 900) * MIB, rng.randint(16, 60)
    runway = rng.uniform(25, 55)
    limit = base + rate * (span + runway)
    points = [(t * 60.0, _noisy(rng, base + rate * t, 0.02)) for t in range(span + 1)]
    verdict = curve_fit.judge(points, limit)
    assert verdict["verdict"] == "linear"
    assert verdict["time_to_limit_s"] / 60 == pytest.approx(runway, rel=0.1)


def test_a_plateau_above_the_limit_projects_the_oom_on_the_curve():
    base, plateau, tau = 1000 * MIB, 5000 * MIB, 2400.0
    limit = 4000 * MIB
    points = [(t, base + (plateau - base) * (1 - math.exp(-t / tau))) for t in range(0, 1021, 60)]
    verdict = curve_fit.judge(points, limit)
    usage = points[-1][1]
    assert verdict["verdict"] == "saturating"
    assert verdict["time_to_limit_s"] == pytest.approx(
        tau * math.log((plateau - usage) / (plateau - limit)), rel=0.05)
    # the line says sooner
    assert verdict["time_to_limit_s"] > (limit - usage) / verdict["line_slope_per_s"]


def test_too_few_points_or_no_growth_is_unknown():
    assert curve_fit.judge([(0, 1.0), (60, 2.0)], 10.0)["verdict"] == "unknown"
    flat = [(t * 60.0, 100.0) for t in range(20)]
    assert curve_fit.judge(flat, 1000.0)["verdict"] == "unknown"
    assert curve_fit.judge(flat, 1000.0)["time_to_limit_s"] is None

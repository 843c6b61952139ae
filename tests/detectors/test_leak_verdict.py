"""lib.leak_verdict: the memory_leak playbook's verdict on a service's pods, with the previous
version's pods as the reference curve (a fake Prometheus answering with hand-made series)."""
import math
import random

from lib import curve_fit, leak_verdict
from lib.prom import Sample, Series

MIB = 1024.0 ** 2
NOW = 1_800_000_000.0
LIMIT = 2000 * MIB


class FakeProm(object):
    def __init__(self, series, limits):
        self.series, self.limits, self.queries = series, limits, []

    def query_range(self, promql, lookback_s, step_s):
        self.queries.append(promql)
        return [Series({"pod": pod, "container": "ledger"},
                       [(t, v) for t, v in points if t >= NOW - lookback_s])
                for pod, points in self.series.items()]

    def query(self, promql):
        self.queries.append(promql)
        return [Sample({"pod": pod, "container": "ledger"}, value, NOW)
                for pod, value in self.limits.items()]


def curve(start, end, value, noise=0.0, seed=0):
    rng = random.Random(seed)
    return [(t, value(t - start) * (1 + noise * (rng.random() - 0.5)))
            for t in range(int(start), int(end) + 1, 60)]


def warm(age):
    return 400 * MIB + 1000 * MIB * (1 - math.exp(-age / 1500.0))


def judge(series, previous_rs="ledger-old"):
    prom = FakeProm(series, {pod: LIMIT for pod in series})
    return leak_verdict.judge_service(prom, "shop", "ledger", previous_rs, 7200, 60), prom


def test_pods_following_the_previous_versions_curve_are_warming_up():
    deploy = NOW - 600
    new = curve(deploy, NOW, warm, noise=0.03, seed=1)
    # precondition: ten noisy minutes alone do not establish a plateau below the limit
    alone = curve_fit.judge(new, LIMIT)
    assert alone["verdict"] in ("linear", "saturating") and alone["time_to_limit_s"]
    result, prom = judge({"ledger-new-aaaaa": new,
                          "ledger-old-bbbbb": curve(NOW - 5400, deploy, warm, 0.003, 2)})
    assert result["verdict"] == "warmup", result
    assert "previous version's curve" in result["reason"]
    assert result["previous"]["same_curve"] is True
    assert 'namespace="shop",container="ledger"' in prom.queries[0]
    # without the previous version to compare with, the same pods are judged a leak
    assert judge({"ledger-new-aaaaa": new}, previous_rs="")[0]["verdict"] == "leak"


def test_a_leak_does_not_follow_a_flat_previous_version():
    deploy = NOW - 1800
    leak = curve(deploy, NOW, lambda age: 600 * MIB + 20 * MIB * age / 60, 0.003, 3)
    result, _ = judge({"ledger-new-aaaaa": leak,
                       "ledger-old-bbbbb": curve(NOW - 5400, deploy, lambda age: 600 * MIB,
                                                 0.003, 4)})
    assert result["verdict"] == "leak"
    assert result["previous"]["same_curve"] is False
    # 600 + 20 * 30 = 1200 MiB now, at 20 MiB/min: 40 min to 2000 MiB; and it is already
    # 2x what the previous version held
    assert abs(result["runway_min"] - 40) < 2
    assert result["conclusive"] is True


def test_a_plateau_below_the_limit_is_a_warm_up_without_a_previous_version():
    result, _ = judge({"ledger-new-aaaaa": curve(NOW - 1800, NOW, warm, 0.003, 5)},
                      previous_rs="")
    assert result["verdict"] == "warmup"
    assert result["previous"] == {"seen": False}
    assert result["pods"][0]["model"] == "saturating"


def test_a_leak_without_reference_is_not_conclusive():
    leak = curve(NOW - 1200, NOW, lambda age: 600 * MIB + 10 * MIB * age / 60, 0.003, 6)
    result, _ = judge({"ledger-new-aaaaa": leak}, previous_rs="")
    assert result["verdict"] == "leak" and result["conclusive"] is False
    assert abs(result["runway_min"] - 120) < 5


def test_no_history_and_no_growth():
    assert judge({})[0]["verdict"] == "unknown"
    flat = curve(NOW - 1800, NOW, lambda age: 500 * MIB)
    assert judge({"ledger-new-aaaaa": flat})[0]["verdict"] == "no_growth"

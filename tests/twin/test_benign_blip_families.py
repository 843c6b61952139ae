"""The benign blip families cross a symptom threshold in the metric, briefly."""
from scenarios.families import BENIGN_FAMILIES, generate
from twin.model.signals import throttle_ratio

SLO = 0.05            # error_rate slo_error_ratio default (actions/lib/catalogue.py)
THROTTLE = 0.25       # cpu_throttling ratio default
THROTTLE_FOR_S = 300  # cpu_throttling for_s default
WINDOW_S = 300        # the detectors' 5m rate() window


def _seconds(text):
    return int(text.rstrip("s"))


def test_the_blips_are_benign_families():
    for family in ("latency_blip", "error_blip", "throttle_blip"):
        assert family in BENIGN_FAMILIES
        truth = generate(family, 3)["ground_truth"]
        assert (truth["kind"], truth["expected_outcome"]) == ("benign", "none")


def test_an_error_blip_crosses_the_slo_in_the_window_and_heals_within_a_minute():
    for seed in range(40):
        fault = generate("error_blip", seed)["faults"][0]
        length = _seconds(fault["until"]) - _seconds(fault["at"])
        assert length <= 60
        assert fault["error_ratio"] * length / WINDOW_S > SLO


def test_a_latency_blip_is_short_and_at_least_three_times_slower():
    for seed in range(40):
        fault = generate("latency_blip", seed)["faults"][0]
        assert _seconds(fault["until"]) - _seconds(fault["at"]) <= 60
        assert fault["factor"] >= 3      # p99 / baseline over the latency ratio of 2


def test_a_throttle_blip_crosses_the_ratio_in_the_window_for_less_than_the_persistence():
    for seed in range(40):
        raw = generate("throttle_blip", seed)
        fault = raw["faults"][0]
        svc = next(s for s in raw["topology"]["services"] if s["name"] == fault["service"])
        traffic = svc["traffic"]
        per_pod = traffic["base_cpu"] + traffic["cpu_per_rps"] * traffic["rps"] / svc["replicas"]
        # the twin's own throttling physics, with its +-3 % noise at the low end
        ratio = throttle_ratio(per_pod * fault["factor"] * 0.97, float(svc["limits"]["cpu"]))
        length = _seconds(fault["until"])
        assert length < THROTTLE_FOR_S
        assert ratio * (length - _seconds(fault["ramp"])) / WINDOW_S > THROTTLE

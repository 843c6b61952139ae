"""Waits capped by an incident deadline, and waits that never sleep past start + timeout."""
import unittest
from types import SimpleNamespace

from lib import clock, condition_wait, k8s_workloads


class FakeClock:
    def __init__(self, t=1000.0):
        self.t = t
        self.sleeps = []

    def now(self):
        return self.t

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.t += seconds


class CappedTimeoutTest(unittest.TestCase):
    def test_no_deadline_keeps_the_timeout(self):
        self.assertEqual(condition_wait.capped_timeout(900, 0, 1000), 900)
        self.assertEqual(condition_wait.capped_timeout(900, None, 1000), 900)

    def test_capped_by_the_time_left(self):
        self.assertEqual(condition_wait.capped_timeout(900, 1120, 1000), 120)
        self.assertEqual(condition_wait.capped_timeout(60, 1120, 1000), 60)

    def test_floor_keeps_the_hold_while_budget_remains(self):
        self.assertEqual(condition_wait.capped_timeout(900, 1010, 1000, floor_s=60), 60)

    def test_exhausted_budget_gives_zero(self):
        self.assertEqual(condition_wait.capped_timeout(900, 990, 1000, floor_s=60), 0.0)


class NoOvershootTest(unittest.TestCase):
    def setUp(self):
        self.fake = FakeClock()
        clock.set_time_source(self.fake.now, self.fake.sleep)
        self.addCleanup(clock.reset)

    def test_condition_wait_with_slow_queries_stops_at_the_timeout(self):
        def slow_query(_query):
            self.fake.t += 2.0  # each query takes 2 s
            return [SimpleNamespace(value=99.0)]

        result = condition_wait.wait(slow_query, "q", "<", 70, 60, 100, 30)
        self.assertFalse(result["met"])
        self.assertLessEqual(result["waited_s"], 100 + 2.0)  # at most the last poll's query
        self.assertLessEqual(sum(self.fake.sleeps), 100)

    def test_exhausted_condition_wait_polls_once(self):
        result = condition_wait.wait(lambda q: [SimpleNamespace(value=99.0)], "q", "<", 70,
                                     60, 0.0, 30)
        self.assertEqual(result["polls"], 1)
        self.assertEqual(self.fake.sleeps, [])

    def test_rollout_wait_stops_at_the_timeout(self):
        status = {"complete": False, "failed": False}

        def slow_read(*_args):
            self.fake.t += 3.0
            return None

        orig_read, orig_status = k8s_workloads.read_deployment, k8s_workloads.rollout_status
        k8s_workloads.read_deployment = slow_read
        k8s_workloads.rollout_status = lambda _dep: dict(status)
        try:
            result = k8s_workloads.wait_rollout(None, "prod", "web", 50, 15)
        finally:
            k8s_workloads.read_deployment, k8s_workloads.rollout_status = orig_read, orig_status
        self.assertTrue(result["timed_out"])
        self.assertLessEqual(result["waited_s"], 50 + 3.0)
        self.assertLessEqual(sum(self.fake.sleeps) + 3.0 * (result["polls"] - 1), 50)

"""Waits and Inquiry TTLs capped by an incident deadline (lib.deadline), and waits that never
sleep past start + timeout."""
import unittest
from types import SimpleNamespace

from lib import clock, condition_wait, incidents, k8s_workloads
from lib import deadline as deadlines


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
        self.assertEqual(deadlines.capped_timeout(900, 0, 1000), 900)
        self.assertEqual(deadlines.capped_timeout(900, None, 1000), 900)

    def test_capped_by_the_time_left(self):
        self.assertEqual(deadlines.capped_timeout(900, 1120, 1000), 120)
        self.assertEqual(deadlines.capped_timeout(60, 1120, 1000), 60)

    def test_floor_keeps_the_hold_while_budget_remains(self):
        self.assertEqual(deadlines.capped_timeout(900, 1010, 1000, floor_s=60), 60)

    def test_exhausted_budget_gives_zero(self):
        self.assertEqual(deadlines.capped_timeout(900, 990, 1000, floor_s=60), 0.0)
        self.assertEqual(deadlines.capped_timeout(900, 1000, 1000), 0.0)


class WaitDeadlineTest(unittest.TestCase):
    def test_budget_less_the_reserve(self):
        self.assertEqual(deadlines.wait_deadline(1000), 1000 + incidents.END_BUDGET_S - 30)

    def test_holds_extend_it(self):
        self.assertEqual(deadlines.wait_deadline(1000, holds_s=300, reserve_s=0),
                         1000 + incidents.END_BUDGET_S + 300)

    def test_reserve_is_left_before_the_bound(self):
        self.assertEqual(deadlines.wait_deadline(1000, reserve_s=120),
                         1000 + incidents.END_BUDGET_S - 120)


class CappedTtlTest(unittest.TestCase):
    def test_no_deadline_keeps_the_ttl(self):
        self.assertEqual(deadlines.capped_ttl_minutes(30, 0, 1000), 30)
        self.assertEqual(deadlines.capped_ttl_minutes(30, None, 1000), 30)

    def test_capped_to_the_whole_minutes_left(self):
        self.assertEqual(deadlines.capped_ttl_minutes(30, 1000 + 7 * 60 + 59, 1000), 7)
        self.assertEqual(deadlines.capped_ttl_minutes(5, 1000 + 3600, 1000), 5)

    def test_floor_when_little_or_no_time_is_left(self):
        self.assertEqual(deadlines.capped_ttl_minutes(30, 1030, 1000), 1)
        self.assertEqual(deadlines.capped_ttl_minutes(30, 900, 1000), 1)
        self.assertEqual(deadlines.capped_ttl_minutes(30, 900, 1000, floor_minutes=2), 2)


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

"""The pod selection criteria grammar and pod facts (no cluster needed)."""
import unittest

from lib import pod_selection as sel


def pod(priority=0, cls="", owner="ReplicaSet", namespace="prod", mirror=False, phase="Running"):
    md = {"name": "p", "namespace": namespace,
          "owner_references": [{"kind": owner, "name": "o", "controller": True}] if owner
          else []}
    if mirror:
        md["annotations"] = {sel.MIRROR_ANNOTATION: "x"}
    return {"metadata": md, "spec": {"priority": priority, "priority_class_name": cls},
            "status": {"phase": phase}}


class CriteriaTest(unittest.TestCase):
    def test_seed_criteria(self):
        clauses = sel.parse_criteria("priority < high AND restartable == true")
        self.assertTrue(sel.matches(pod(0), clauses))
        self.assertTrue(sel.matches(pod(5000), clauses))  # medium
        self.assertFalse(sel.matches(pod(100000), clauses))  # high
        self.assertFalse(sel.matches(pod(0, owner=""), clauses))  # bare pod
        self.assertFalse(sel.matches(pod(0, cls="high-priority"), clauses))  # class name wins

    def test_levels(self):
        self.assertEqual(sel.priority_level(pod(0, "system-cluster-critical")), "critical")
        self.assertEqual(sel.priority_level(pod(2000000000)), "critical")
        self.assertEqual(sel.priority_level(pod(1000)), "medium")
        self.assertEqual(sel.priority_level(pod(None, "batch-medium")), "medium")
        self.assertEqual(sel.priority_level(pod(None, "")), "low")

    def test_numbers_strings_and_case(self):
        clauses = sel.parse_criteria("priority <= 10 and namespace != kube-system "
                                     "AND owner_kind == StatefulSet")
        self.assertTrue(sel.matches(pod(10, owner="StatefulSet"), clauses))
        self.assertFalse(sel.matches(pod(11, owner="StatefulSet"), clauses))
        self.assertFalse(sel.matches(pod(0, owner="StatefulSet", namespace="kube-system"),
                                     clauses))
        self.assertEqual(sel.parse_criteria(""), [])
        self.assertEqual(sel.parse_criteria("all"), [])

    def test_errors_name_the_problem(self):
        for text, fragment in (("priority << high", "cannot parse"),
                               ("colour == red", "unknown field"),
                               ("restartable > true", "== and !="),
                               ("priority < urgent", "priority compares"),
                               ("namespace < a", "== and !=")):
            with self.assertRaises(sel.CriteriaError) as caught:
                sel.parse_criteria(text)
            self.assertIn(fragment, str(caught.exception))

    def test_never_movable(self):
        self.assertEqual(sel.never_movable_reason(pod(owner="DaemonSet")), "DaemonSet pod")
        self.assertEqual(sel.never_movable_reason(pod(mirror=True)), "mirror pod")
        self.assertEqual(sel.never_movable_reason(pod(phase="Succeeded")), "finished pod")
        self.assertIsNone(sel.never_movable_reason(pod()))

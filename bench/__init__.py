"""Benchmarks: scenario benchmark, scale benchmark, fault-injection suite."""

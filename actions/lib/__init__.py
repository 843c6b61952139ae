"""Shared library of the self_healing pack (used by actions and sensors)."""

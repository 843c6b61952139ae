"""Stand-in for part of StackStorm (tests only; see tests/st2_standin/README.md)."""

"""Stand-in for StackStorm's st2tests pack-testing interfaces (see tests/st2_standin/README.md)."""

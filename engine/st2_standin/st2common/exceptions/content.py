"""Content exceptions (stand-in)."""


class ParseException(ValueError):
    """A command does not match an alias format string."""

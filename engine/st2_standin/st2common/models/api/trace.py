"""Trace context attached to dispatched triggers (stand-in)."""


class TraceContext(object):
    """Identifies a trace by id or by a user-supplied tag (compared by identity, like st2)."""

    def __init__(self, id_=None, trace_tag=None):
        self.id_ = id_
        self.trace_tag = trace_tag

    def __str__(self):
        return "{id_: %s, trace_tag: %s}" % (self.id_, self.trace_tag)

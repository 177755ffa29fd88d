"""``raftmc``, the command line: one module per command, one parser, one error, one set of
exit statuses (:mod:`.app`)."""

from .app import main

__all__ = ["main"]

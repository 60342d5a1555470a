"""Command methods. Each only shapes arguments and calls ``execute_command``
(the C engine routes, sends, parses and applies the response callback)."""

from .core import CoreCommands

__all__ = ["ClusterCommands"]


class ClusterCommands(CoreCommands):
    """All command mixins combined."""

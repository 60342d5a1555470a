"""CoreCommands: the first, minimal command set, now spread over the families.

GET, SET, INCR(BY) and the mapping dunders moved to strings.py; DEL and EXISTS
(split by slot) to multikey.py; PING to server.py. The empty mixin stays last in
ClusterCommands' bases so that the wiring in commands/__init__.py is unchanged."""


class CoreCommands:
    """Nothing left here: PING moved to server.py (ServerCommands)."""

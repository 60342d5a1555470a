"""The package version, in one place (read by setup.py and passed to the C module)."""

__version__ = "3.0.0"
VERSION = tuple(int(p) for p in __version__.split("."))

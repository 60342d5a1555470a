"""``Script``: a Lua script run by its SHA1, loaded on demand (``register_script``)."""

import hashlib

from .exceptions import NoScriptError

__all__ = ["Script"]


def _encode(client, script):
    """The script's bytes as the client sends them (its encoding)."""
    if isinstance(script, (bytes, bytearray, memoryview)):
        return bytes(script)
    kwargs = getattr(client.connection_pool, "connection_kwargs", {}) or {}
    encoding = kwargs.get("encoding") or kwargs.get("charset") or "utf-8"
    errors = kwargs.get("encoding_errors") or kwargs.get("errors") or "strict"
    return str(script).encode(encoding, errors)


class Script:
    """An executable Lua script object returned by ``register_script``.

    ``script(keys=[...], args=[...])`` runs EVALSHA; when a node answers
    NOSCRIPT (first use, SCRIPT FLUSH, a new master) the script is loaded on
    every master with SCRIPT LOAD and EVALSHA is sent again. All ``keys`` must
    hash to one slot; with no keys the script runs on a random master.
    """

    def __init__(self, registered_client, script):
        self.registered_client = registered_client
        self.script = script
        self.sha = hashlib.sha1(_encode(registered_client, script)).hexdigest()

    def __call__(self, keys=[], args=[], client=None):
        """Run the script with ``keys`` and ``args`` (on ``client`` if given)."""
        if client is None:
            client = self.registered_client
        keys = tuple(keys)
        args = keys + tuple(args)
        scripts = getattr(client, "scripts", None)
        if isinstance(scripts, set):
            # a pipeline: it loads its scripts before it runs (redis-py's way)
            scripts.add(self)
            return client.evalsha(self.sha, len(keys), *args)
        try:
            return client.evalsha(self.sha, len(keys), *args)
        except NoScriptError:
            # SCRIPT LOAD goes to every master, so whichever node runs the
            # retry has it; it returns the same SHA1 as computed above.
            self.sha = client.script_load(self.script)
            return client.evalsha(self.sha, len(keys), *args)

    def __repr__(self):
        return "<Script sha={0}>".format(self.sha)

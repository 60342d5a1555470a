"""Shared driver of the fuzz targets in this directory (not a test module).

Each target is a script defining ``test_one_input(data: bytes)`` and calling
``main(test_one_input)``. With atheris installed the script is a libFuzzer
binary (``python fuzz/fuzz_reply.py -max_total_time=60 CORPUS...``; all the
libFuzzer flags work). Without atheris, or with ``--replay``, every file named
on the command line (or found in a named directory) is run once through the
target: that is how a crash file is reproduced, and how the seed corpus is
checked on an interpreter without atheris.

``load()`` imports rediscluster inside ``atheris.instrument_imports`` so that
the Python side (exceptions.py, the redirect parser) gives coverage too; the C
extension gives coverage only when it was built with
``-fsanitize=fuzzer-no-link`` (``make fuzz`` does that, see README.md).
"""

import os
import sys

try:
    import atheris
except ImportError:  # replay mode only
    atheris = None

REPLAY = atheris is None or "--replay" in sys.argv or os.environ.get("FUZZ_REPLAY", "") not in ("", "0")


def load():
    """Import and return (rediscluster._core, rediscluster.exceptions)."""
    if atheris is not None and not REPLAY and not os.environ.get("FUZZ_NO_PYCOV"):
        with atheris.instrument_imports(include=["rediscluster"]):
            import rediscluster  # noqa: F401
            from rediscluster import _core, exceptions
    else:
        from rediscluster import _core, exceptions
    return _core, exceptions


def _inputs(paths):
    for p in paths:
        if os.path.isdir(p):
            for name in sorted(os.listdir(p)):
                full = os.path.join(p, name)
                if os.path.isfile(full):
                    yield full
        elif os.path.isfile(p):
            yield p


def replay(test_one_input, paths):
    n = 0
    for path in _inputs(paths):
        with open(path, "rb") as f:
            data = f.read()
        try:
            test_one_input(data)
        except BaseException:
            print("FAILED on %s" % path, file=sys.stderr)
            raise
        n += 1
    print("replayed %d inputs: ok" % n)
    return n


def main(test_one_input):
    if REPLAY:
        args = [a for a in sys.argv[1:] if a != "--replay" and not a.startswith("-")]
        replay(test_one_input, args)
        return
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


class Bytes:
    """A tiny deterministic consumer of fuzz bytes (stdlib only, so that corpus
    files replay without atheris). Reads past the end give zeros."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def left(self):
        return len(self.data) - self.pos

    def byte(self):
        if self.pos >= len(self.data):
            return 0
        b = self.data[self.pos]
        self.pos += 1
        return b

    def int_in(self, lo, hi):
        """An int in [lo, hi] (1 to 4 bytes, as many as the range needs)."""
        span = hi - lo
        if span <= 0:
            return lo
        v, nbytes = 0, (span.bit_length() + 7) // 8
        for _ in range(min(nbytes, 8)):
            v = (v << 8) | self.byte()
        return lo + v % (span + 1)

    def bool(self):
        return bool(self.byte() & 1)

    def take(self, n):
        n = max(0, min(n, self.left()))
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def blob(self, maxlen=32):
        return self.take(self.int_in(0, maxlen))

    def pick(self, seq):
        return seq[self.int_in(0, len(seq) - 1)]

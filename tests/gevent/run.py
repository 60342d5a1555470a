"""Run every tests/gevent/test_*.py module in its own process, monkey-patched
first (gevent's patching is process-global), and report them together.
Extra arguments go to each pytest. Exit status: the first failure's."""

import glob
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv):
    status = 0
    for path in sorted(glob.glob(os.path.join(HERE, "test_*.py"))):
        cmd = [sys.executable, "-m", "gevent.monkey", "--module", "pytest", path,
               "-q", "-p", "no:cacheprovider"] + argv
        print("== gevent: %s" % os.path.relpath(path), flush=True)
        rc = subprocess.call(cmd)
        if rc not in (0, 5) and status == 0:  # 5: nothing collected
            status = rc
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

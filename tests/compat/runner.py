"""Runs differential scenarios in the venv of the original redis-py-cluster
2.1.3 (``.venv-compat``, made by ``make test-compat``).

Started by tests/compat/conftest.py as ``python -I runner.py``: isolated, so
``import rediscluster`` finds the installed original, never this repository's
package. Reads one JSON request per line on stdin (``{"scenario": name,
"options": {...}}``) and answers one line per request: the base64 of the
pickled, normalised step results (builtins only, see scenarios.normalise).
"""

import base64
import json
import os
import pickle
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import scenarios  # noqa: E402


def main():
    import rediscluster

    out = sys.stdout
    sys.stdout = sys.stderr  # scenario prints must not corrupt the protocol
    out.write(json.dumps({"version": rediscluster.__version__}) + "\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        try:
            steps = scenarios.run(request["scenario"], "ORIG", request.get("options") or {})
            payload = {"steps": steps}
        except BaseException as e:  # the scenario itself broke: report, keep serving
            payload = {"error": "%s: %s" % (type(e).__name__, e)}
        out.write(base64.b64encode(pickle.dumps(payload, protocol=4)).decode() + "\n")
        out.flush()


if __name__ == "__main__":
    main()

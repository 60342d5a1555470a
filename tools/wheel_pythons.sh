#!/usr/bin/env sh
# The interpreters that `make wheels` builds for and `make test-wheels` tests
# with, one path a line: the newest CPython 3.9, 3.10, ..., 3.13 under
# PYENV_ROOT/versions (3.X.Y directories only: no -dev, no free-threaded "t"
# builds); when there is none, FALLBACK (the Makefile's PYTHON).
# usage: tools/wheel_pythons.sh PYENV_ROOT FALLBACK
root=${1:?usage: $0 PYENV_ROOT FALLBACK}
fallback=${2:?usage: $0 PYENV_ROOT FALLBACK}
found=
for minor in 3.9 3.10 3.11 3.12 3.13; do
    best=$(ls -d "$root/versions/$minor".* 2>/dev/null | grep -E "/$minor\.[0-9]+\$" | sort -V | tail -n 1)
    if [ -n "$best" ] && [ -x "$best/bin/python" ]; then
        echo "$best/bin/python"
        found=1
    fi
done
[ -n "$found" ] || "$fallback" -c "import sys; print(sys.executable)"

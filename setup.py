"""The C extension rediscluster._core and its build knobs.

Project metadata lives in pyproject.toml. This file only defines the extension;
it reads no command-line arguments. Knobs (environment variables, "1" = on):

    RC_DEBUG=1     -O0 -g3 -UNDEBUG (asserts on)
    RC_SANITIZE=1  AddressSanitizer + UndefinedBehaviorSanitizer (compile and link)
    RC_WERROR=1    -Werror
    RC_NO_EXTENSION=1  leave the extension out (`make setup` installs the package
                   editable this way; `make build` then compiles it in place)

hiredis and OpenSSL are found with pkg-config: the operating system's
libraries, or those that PKG_CONFIG_LIBDIR points at (`make wheels` builds
pinned releases into build/wheel-deps/prefix, tools/wheel_deps.sh). Debug and
sanitizer builds keep their object files under build/<variant>/ so that they
never mix with a normal build's.

The extension exports PyInit__core and nothing else: -fvisibility=hidden, and
on Linux the version script csrc/exports.map (macOS: -exported_symbol).
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
from glob import glob

from setuptools import Extension, setup

INSTALL_HINT = """\
rediscluster links the operating system's hiredis C library, found with pkg-config.
Install both, then build again:
    Debian/Ubuntu:  apt-get install pkg-config libhiredis-dev libssl-dev
    Fedora/RHEL:    dnf install pkgconf-pkg-config hiredis-devel openssl-devel
    Alpine:         apk add pkgconf hiredis-dev openssl-dev
    macOS:          brew install pkg-config hiredis openssl"""


def knob(name):
    return os.environ.get(name, "") not in ("", "0")


def read_version():
    with open(os.path.join("rediscluster", "_version.py"), encoding="utf-8") as f:
        match = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", f.read(), re.M)
    if not match:
        raise SystemExit("error: no __version__ in rediscluster/_version.py")
    return match.group(1)


def pkg_config(package):
    """Return (include_dirs, library_dirs, libraries, cflags, ldflags) for a package."""
    if shutil.which("pkg-config") is None:
        raise SystemExit("error: pkg-config not found.\n" + INSTALL_HINT)

    def query(*flags):
        proc = subprocess.run(
            ["pkg-config", *flags, package], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        if proc.returncode != 0:
            raise SystemExit(
                "error: pkg-config cannot find %s: %s\n%s"
                % (package, proc.stderr.decode(errors="replace").strip(), INSTALL_HINT)
            )
        return shlex.split(proc.stdout.decode())

    include_dirs, cflags = [], []
    for flag in query("--cflags"):
        (include_dirs if flag.startswith("-I") else cflags).append(
            flag[2:] if flag.startswith("-I") else flag
        )
    library_dirs, libraries, ldflags = [], [], []
    for flag in query("--libs"):
        if flag.startswith("-L"):
            library_dirs.append(flag[2:])
        elif flag.startswith("-l"):
            libraries.append(flag[2:])
        else:
            ldflags.append(flag)
    return include_dirs, library_dirs, libraries, cflags, ldflags


version = read_version()
sources = sorted(glob("csrc/*.c"))
cflags = [
    "-std=c11",
    "-D_GNU_SOURCE",
    "-fvisibility=hidden",
    "-Wall",
    "-Wextra",
    "-Wstrict-prototypes",
    "-Wno-missing-field-initializers",
]
ldflags = []
# Only the module's init function is exported (tests/unit/test_symbols.py).
EXPORTS_MAP = os.path.join("csrc", "exports.map")
if sys.platform.startswith("linux"):
    ldflags.append("-Wl,--version-script=" + os.path.abspath(EXPORTS_MAP))
elif sys.platform == "darwin":
    ldflags.append("-Wl,-exported_symbol,_PyInit__core")
if knob("RC_DEBUG"):
    cflags += ["-O0", "-g3", "-UNDEBUG"]
if knob("RC_SANITIZE"):
    cflags += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
    ldflags += ["-fsanitize=address,undefined"]
if knob("RC_WERROR"):
    cflags.append("-Werror")

ext_modules = []
if knob("RC_NO_EXTENSION"):
    pass
elif sources:
    hi_include, hi_libdirs, hi_libs, hi_cflags, hi_ldflags = pkg_config("hiredis")
    # TLS: OpenSSL's libssl (Debian: libssl-dev), the library CPython uses too.
    ssl_include, ssl_libdirs, ssl_libs, ssl_cflags, ssl_ldflags = pkg_config("openssl")
    hi_include += ssl_include
    hi_libdirs += ssl_libdirs
    hi_libs += ssl_libs
    hi_cflags += ssl_cflags
    hi_ldflags += ssl_ldflags
    ext_modules.append(
        Extension(
            "rediscluster._core",
            sources=sources,
            depends=sorted(glob("csrc/*.h")) + [EXPORTS_MAP],
            include_dirs=["csrc"] + hi_include,
            library_dirs=hi_libdirs,
            libraries=hi_libs,
            define_macros=[("RC_VERSION", '"%s"' % version)],
            extra_compile_args=hi_cflags + cflags,
            extra_link_args=hi_ldflags + ldflags,
        )
    )
else:
    print("warning: no csrc/*.c yet: building rediscluster without its C extension")

variant = "-".join(v for v, k in (("debug", "RC_DEBUG"), ("sanitize", "RC_SANITIZE")) if knob(k))
setup(
    ext_modules=ext_modules,
    options={"build": {"build_base": os.path.join("build", variant)}} if variant else {},
)

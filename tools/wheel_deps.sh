#!/usr/bin/env bash
# The C libraries that the wheels bundle -- hiredis and OpenSSL -- built from
# pinned source releases whose SHA-256 is checked, into PREFIX (shared
# libraries, headers, pkg-config files, licence texts). `make wheels` and
# cibuildwheel's before-all (pyproject.toml) both run this script, so the
# local wheels and the release wheels bundle the same sources built the same
# way. The pins below are the one place where the bundled versions are chosen;
# RELEASING.md says how to move them when a security fix comes out.
#
# usage: tools/wheel_deps.sh PREFIX
#        tools/wheel_deps.sh --print NAME     (a pin: HIREDIS_VERSION, OPENSSL_VERSION, ...)
#
# The tarballs come from (RC_DEPS_SOURCE):
#   upstream  the projects' own release downloads (the release CI: internet)
#   debian    Debian's source archive, through apt-get: Debian 13 ships these
#             very releases, and its .orig.tar.gz files are the upstream
#             tarballs byte for byte (the same SHA-256 as below), so a machine
#             that reaches only Debian's archive builds the same bytes. A
#             private apt state under the work directory is used (deb-src
#             lines for Debian 13 made from the mirror the system's apt
#             already uses); the system's apt configuration is not changed.
#   auto      (default) debian on Debian (apt-get present), else upstream.
# A tarball already in the cache directory is reused when its SHA-256 matches.
#
# env: RC_DEPS_SOURCE (auto), RC_DEPS_WORK (PREFIX/../work: sources, cache,
#      build trees), JOBS (nproc).
set -euo pipefail

# ------------------------------------------------------------------ the pins
HIREDIS_VERSION=1.2.0
HIREDIS_SHA256=82ad632d31ee05da13b537c124f819eb88e18851d9cb0c30ae0552084811588c
HIREDIS_URL=https://github.com/redis/hiredis/archive/refs/tags/v$HIREDIS_VERSION.tar.gz
# OpenSSL 3.5 is an LTS series (supported until April 2030); Debian 13 ships it.
OPENSSL_VERSION=3.5.7
OPENSSL_SHA256=a8c0d28a529ca480f9f36cf5792e2cd21984552a3c8e4aa11a24aa31aeac98e8
OPENSSL_URL=https://github.com/openssl/openssl/releases/download/openssl-$OPENSSL_VERSION/openssl-$OPENSSL_VERSION.tar.gz
# The Debian release whose source archive carries both (RC_DEPS_SOURCE=debian).
DEBIAN_SUITE=trixie
# OPENSSLDIR (openssl.cnf, and the default CA file cert.pem and directory
# certs/): /etc/ssl is where Debian, Ubuntu, Alpine, SUSE and Arch keep them
# (Fedora and RHEL link /etc/ssl/certs to /etc/pki/tls/certs). SSL_CERT_FILE
# and SSL_CERT_DIR override it at run time.
OPENSSL_DIR=/etc/ssl
# Only the two libraries: no command-line tool, tests, manuals or loadable
# modules (the wheel would not carry them).
OPENSSL_OPTIONS="shared no-apps no-tests no-docs no-module"

say() { echo "== wheel-deps: $*"; }
fail() { echo "wheel-deps: error: $*" >&2; exit 1; }

if [ "${1:-}" = --print ]; then
    eval "echo \"\${${2:?usage: $0 --print NAME}:?no pin named $2}\""
    exit 0
fi

PREFIX=${1:?usage: $0 PREFIX}
# PREFIX is emptied before a build: refuse a directory this script did not make.
if [ -d "$PREFIX" ] && [ -n "$(ls -A "$PREFIX")" ] && [ ! -f "$PREFIX/.rc-wheel-deps" ]; then
    fail "$PREFIX is not empty and was not made by $0"
fi
mkdir -p "$PREFIX"
PREFIX=$(cd "$PREFIX" && pwd)
WORK=${RC_DEPS_WORK:-$(dirname "$PREFIX")/work}
mkdir -p "$WORK/cache"
WORK=$(cd "$WORK" && pwd)
CACHE=$WORK/cache
SOURCE=${RC_DEPS_SOURCE:-auto}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# Rebuilt only when this script (pins, options) or the compiler changed.
STAMP=$PREFIX/.rc-wheel-deps
KEY="$(sha256_of "$SELF") $(uname -m) $(${CC:-cc} --version 2>/dev/null | head -n1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$KEY" ]; then
    say "hiredis $HIREDIS_VERSION and OpenSSL $OPENSSL_VERSION already built in $PREFIX"
    exit 0
fi

# ------------------------------------------------------------------ build tools
# In the manylinux (AlmaLinux) and musllinux (Alpine) images, OpenSSL's
# Configure needs a few Perl modules that are not there by default.
have_perl_modules() { perl -MIPC::Cmd -MTime::Piece -MFile::Compare -e1 2>/dev/null; }
if ! command -v perl >/dev/null 2>&1 || ! have_perl_modules || ! command -v make >/dev/null 2>&1; then
    if command -v dnf >/dev/null 2>&1; then
        dnf install -y -q perl-IPC-Cmd perl-Time-Piece perl-File-Compare perl-File-Copy make
    elif command -v yum >/dev/null 2>&1; then
        yum install -y -q perl-IPC-Cmd perl-Time-Piece perl-File-Compare perl-File-Copy make
    elif command -v apk >/dev/null 2>&1; then
        apk add --no-cache perl make linux-headers
    elif command -v apt-get >/dev/null 2>&1; then
        env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends perl make >/dev/null
    fi
    have_perl_modules || fail "OpenSSL's Configure needs perl with IPC::Cmd and Time::Piece"
fi

# ------------------------------------------------------------------ fetching
if [ "$SOURCE" = auto ]; then
    if command -v apt-get >/dev/null 2>&1 && grep -qx 'ID=debian' /etc/os-release 2>/dev/null; then
        SOURCE=debian
    else
        SOURCE=upstream
    fi
fi
case $SOURCE in upstream|debian) ;; *) fail "RC_DEPS_SOURCE=$SOURCE: auto, upstream or debian" ;; esac

download() {  # URL FILE
    if command -v curl >/dev/null 2>&1; then
        curl -fsSL --retry 3 --connect-timeout 30 -o "$2" "$1"
    else
        wget -q -O "$2" "$1"
    fi
}

# A private apt state with deb-src lines for $DEBIAN_SUITE, pointing at the
# Debian mirror(s) that the system's own apt sources use.
APT_DIR=$WORK/apt
APT_OPTS=(-o "Dir::Etc::sourcelist=$APT_DIR/sources.list"
          -o "Dir::Etc::sourceparts=$APT_DIR/sources.list.d"
          -o "Dir::Etc::preferencesparts=$APT_DIR/preferences.d"
          -o "Dir::State::Lists=$APT_DIR/lists"
          -o "Dir::Cache=$APT_DIR/cache")
# As root, apt would hand the downloads to its _apt user, who cannot write here.
if [ "$(id -u)" = 0 ]; then APT_OPTS+=(-o "APT::Sandbox::User=root"); fi
apt_ready=
apt_prepare() {
    [ -n "$apt_ready" ] && return 0
    rm -rf "$APT_DIR"
    mkdir -p "$APT_DIR"/{sources.list.d,preferences.d,lists/partial,cache/archives/partial}
    : >"$APT_DIR/sources.list"
    python3 - "$DEBIAN_SUITE" >"$APT_DIR/sources.list.d/rc-wheel-deps.sources" <<'PY' \
        || fail "no Debian mirror found in the system's apt sources (RC_DEPS_SOURCE=upstream?)"
import glob, os, re, sys

suite = sys.argv[1]
codename = ""
for line in open("/etc/os-release", encoding="utf-8"):
    if line.startswith("VERSION_CODENAME="):
        codename = line.split("=", 1)[1].strip().strip('"')
entries = []  # (uri, suites)
for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    if os.path.exists(path):
        for line in open(path, encoding="utf-8"):
            line = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()
            if len(line) >= 3 and line[0] == "deb":
                entries.append((line[1], [line[2]]))
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for block in re.split(r"\n\s*\n", open(path, encoding="utf-8").read()):
        fields = {}
        for line in block.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.split()
        if "deb" in fields.get("types", []) and fields.get("enabled", ["yes"]) != ["no"]:
            for uri in fields.get("uris", []):
                entries.append((uri, fields.get("suites", [])))
archive = [u for u, s in entries if codename and codename in s]
security = [u for u, s in entries if codename and codename + "-security" in s]
if not archive or not security:
    sys.exit(1)
key = "/usr/share/keyrings/debian-archive-keyring.gpg"
for uris, suites in ((archive[:1], [suite, suite + "-updates"]), (security[:1], [suite + "-security"])):
    print("Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main" % (uris[0], " ".join(suites)))
    if os.path.exists(key):
        print("Signed-By: %s" % key)
    print()
PY
    say "apt-get update (Debian $DEBIAN_SUITE source indices, private state in $APT_DIR)"
    apt-get -q "${APT_OPTS[@]}" update >"$APT_DIR/update.log" 2>&1 \
        || { cat "$APT_DIR/update.log" >&2; fail "apt-get update failed"; }
    apt_ready=1
}

debian_fetch() {  # SRCPKG ORIG_FILE DEST
    apt_prepare
    # Every source package version that carries exactly this .orig tarball
    # (the main and the security archive may both list it); only the tarball
    # is taken, from the first archive that serves it.
    local versions version uri ok=
    versions=$(apt-cache "${APT_OPTS[@]}" showsrc "$1" 2>/dev/null | awk -v f="$2" '
        /^Package: / { v = "" } /^Version: / { v = $2 } $NF == f && v != "" { print v }' | sort -u)
    [ -n "$versions" ] || fail "Debian $DEBIAN_SUITE no longer lists $2 (a newer release replaced it): move the pin (RELEASING.md)"
    for version in $versions; do
        uri=$(apt-get -q "${APT_OPTS[@]}" source --print-uris "$1=$version" 2>/dev/null \
            | awk -v f="$2" '$2 == f { gsub("\047", "", $1); print $1 }')
        [ -n "$uri" ] || continue
        if /usr/lib/apt/apt-helper "${APT_OPTS[@]}" download-file "$uri" "$3" >"$WORK/apt-helper.log" 2>&1; then
            ok=1; break
        fi
        say "  $uri: $(tail -n 1 "$WORK/apt-helper.log")"
    done
    [ -n "$ok" ] || fail "no Debian archive served $2"
}

fetch() {  # NAME VERSION SHA256 URL SRCPKG: makes $CACHE/NAME-VERSION.tar.gz
    local name=$1 version=$2 sha=$3 url=$4 srcpkg=$5
    local file=$CACHE/$name-$version.tar.gz
    if [ -f "$file" ] && [ "$(sha256_of "$file")" = "$sha" ]; then
        return 0
    fi
    rm -f "$file" "$file.part"
    if [ "$SOURCE" = upstream ]; then
        say "downloading $url"
        download "$url" "$file.part" || fail "download of $url failed"
    else
        say "apt-get source $srcpkg (${srcpkg}_$version.orig.tar.gz, Debian $DEBIAN_SUITE)"
        debian_fetch "$srcpkg" "${srcpkg}_$version.orig.tar.gz" "$file.part"
    fi
    local got
    got=$(sha256_of "$file.part")
    [ "$got" = "$sha" ] || { rm -f "$file.part"; fail "$name $version: SHA-256 $got, expected $sha"; }
    mv "$file.part" "$file"
}

fetch hiredis "$HIREDIS_VERSION" "$HIREDIS_SHA256" "$HIREDIS_URL" hiredis
fetch openssl "$OPENSSL_VERSION" "$OPENSSL_SHA256" "$OPENSSL_URL" openssl
HIREDIS_TGZ=$CACHE/hiredis-$HIREDIS_VERSION.tar.gz
OPENSSL_TGZ=$CACHE/openssl-$OPENSSL_VERSION.tar.gz
say "sources verified: hiredis $HIREDIS_VERSION, OpenSSL $OPENSSL_VERSION (SHA-256 as pinned)"

# ------------------------------------------------------------------ building
rm -rf "$WORK/src" "$PREFIX" && mkdir -p "$WORK/src" "$PREFIX/share/licenses"
echo building >"$STAMP"   # marks PREFIX as this script's (see the check at the top)
tar -xzf "$HIREDIS_TGZ" -C "$WORK/src"
tar -xzf "$OPENSSL_TGZ" -C "$WORK/src"

say "building hiredis $HIREDIS_VERSION"
# Only the library the extension uses (RESP reader): no TLS part, no tests.
make -s -C "$WORK/src/hiredis-$HIREDIS_VERSION" -j"$JOBS" PREFIX="$PREFIX" USE_SSL=0 \
    OPTIMIZATION=-O2 DEBUG_FLAGS= install >"$WORK/hiredis.log" 2>&1 \
    || { tail -n 40 "$WORK/hiredis.log" >&2; fail "hiredis build failed"; }
mkdir -p "$PREFIX/share/licenses/hiredis"
cp "$WORK/src/hiredis-$HIREDIS_VERSION/COPYING" "$PREFIX/share/licenses/hiredis/COPYING"

say "building OpenSSL $OPENSSL_VERSION ($JOBS jobs; a few minutes)"
(
    cd "$WORK/src/openssl-$OPENSSL_VERSION"
    # shellcheck disable=SC2086
    ./Configure --prefix="$PREFIX" --libdir=lib --openssldir="$OPENSSL_DIR" $OPENSSL_OPTIONS
    make -j"$JOBS" build_libs
    make install_dev
) >"$WORK/openssl.log" 2>&1 || { tail -n 40 "$WORK/openssl.log" >&2; fail "OpenSSL build failed (log: $WORK/openssl.log)"; }
mkdir -p "$PREFIX/share/licenses/openssl"
cp "$WORK/src/openssl-$OPENSSL_VERSION/LICENSE.txt" "$PREFIX/share/licenses/openssl/LICENSE.txt"

# The static archives are not wanted: the extension must link the shared
# libraries (which auditwheel then copies into the wheel).
rm -f "$PREFIX"/lib/*.a
strip --strip-unneeded "$PREFIX"/lib/lib*.so.* 2>/dev/null || true

cat >"$PREFIX/share/licenses/BUNDLED.txt" <<EOF
The rediscluster wheels bundle these libraries (in rediscluster.libs/, renamed
by auditwheel), built from these source releases:

hiredis $HIREDIS_VERSION   BSD-3-Clause   licenses/bundled/hiredis-COPYING
    $HIREDIS_URL
    sha256 $HIREDIS_SHA256
OpenSSL $OPENSSL_VERSION   Apache-2.0     licenses/bundled/openssl-LICENSE.txt
    $OPENSSL_URL
    sha256 $OPENSSL_SHA256
    configured with: --openssldir=$OPENSSL_DIR $OPENSSL_OPTIONS
EOF

for pc in hiredis openssl libssl libcrypto; do
    [ -f "$PREFIX/lib/pkgconfig/$pc.pc" ] || fail "$PREFIX/lib/pkgconfig/$pc.pc was not installed"
done
echo "$KEY" >"$STAMP"
say "done: $(cd "$PREFIX/lib" && ls lib*.so.* | tr '\n' ' ')"

"""Small wheel chores for the wheel scripts (stdlib only: it also runs inside
cibuildwheel's containers, with whatever Python is there).

    wheel_tool.py bundle-licenses WHEEL LICENSE_DIR
        add LICENSE_DIR's files (tools/wheel_deps.sh puts the hiredis and
        OpenSSL licence texts and BUNDLED.txt there) to the wheel under
        <dist-info>/licenses/bundled/, and their lines to RECORD
    wheel_tool.py check WHEEL PREFIX OPENSSL_VERSION
        the repaired wheel carries hiredis and OpenSSL under auditwheel's
        mangled names in rediscluster.libs/ -- the ones built in PREFIX (the
        same hiredis SONAME; OpenSSL of that version) --, the licence texts,
        and no unrepaired linux_* tag
    wheel_tool.py summary WHEEL...
        one line per wheel: its tags and its size
"""

import base64
import hashlib
import os
import re
import sys
import zipfile

LIBS_DIR = "rediscluster.libs/"
# auditwheel's names: <name>-<8 hex digits of a hash>.so.<version>
MANGLED = re.compile(r"^(lib[a-z_]+)-[0-9a-f]{8}\.so(\.[0-9.]+)?$")


def record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (name, digest, len(data))


def dist_info(names):
    dirs = sorted({n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info")})
    if len(dirs) != 1:
        sys.exit("wheel_tool: expected one .dist-info directory, found %s" % dirs)
    return dirs[0]


def bundle_licenses(wheel, license_dir):
    added = {}
    for root, _dirs, files in os.walk(license_dir):
        for fname in sorted(files):
            path = os.path.join(root, fname)
            rel = os.path.relpath(path, license_dir).replace(os.sep, "-")
            with open(path, "rb") as f:
                added[rel] = f.read()
    if not added:
        sys.exit("wheel_tool: no licence files in %s" % license_dir)
    tmp = wheel + ".tmp"
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        info_dir = dist_info(src.namelist())
        record_name = info_dir + "/RECORD"
        record = src.read(record_name).decode().splitlines()
        for item in src.infolist():
            if item.filename != record_name:
                dst.writestr(item, src.read(item.filename))
        for rel, data in sorted(added.items()):
            name = "%s/licenses/bundled/%s" % (info_dir, rel)
            if name in src.namelist():
                sys.exit("wheel_tool: %s is already in the wheel" % name)
            dst.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data,
                         compress_type=zipfile.ZIP_DEFLATED)
            record.insert(len(record) - 1 if record and record[-1].startswith(record_name) else len(record),
                          record_line(name, data))
        dst.writestr(src.getinfo(record_name), "\n".join(record) + "\n")
    os.replace(tmp, wheel)
    print("bundled licences: %s" % ", ".join(sorted(added)))


def check(wheel, prefix, openssl_version):
    problems = []
    base = os.path.basename(wheel)
    if "-linux_" in base:
        problems.append("%s: still tagged linux_* (not repaired)" % base)
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        libs = {}
        for name in names:
            if name.startswith(LIBS_DIR) and not name.endswith("/"):
                m = MANGLED.match(name[len(LIBS_DIR):])
                if not m:
                    problems.append("%s: not an auditwheel-mangled name" % name)
                else:
                    libs[m.group(1)] = name
        for lib in ("libhiredis", "libssl", "libcrypto"):
            if lib not in libs:
                problems.append("no %s in %s (found: %s)" % (lib, LIBS_DIR, sorted(libs)))
        # The grafted hiredis is PREFIX's (the OS's may be another series,
        # 0.14 on Debian 12): the same SONAME version; OpenSSL's version text
        # is in libcrypto.
        if "libhiredis" in libs:
            lib_dir = os.path.join(prefix, "lib")
            built = [f for f in os.listdir(lib_dir)
                     if f.startswith("libhiredis.so.") and not os.path.islink(os.path.join(lib_dir, f))]
            suffix = built[0][len("libhiredis"):] if len(built) == 1 else None
            if suffix is None or not libs["libhiredis"].endswith(suffix):
                problems.append("%s is not the hiredis built in %s (%s)" % (libs["libhiredis"], prefix, built))
        if "libcrypto" in libs:
            marker = ("OpenSSL %s " % openssl_version).encode()
            if marker not in z.read(libs["libcrypto"]):
                problems.append("%s does not say %r" % (libs["libcrypto"], marker.decode()))
        info_dir = dist_info(names)
        for lic in ("BUNDLED.txt", "hiredis-COPYING", "openssl-LICENSE.txt"):
            if "%s/licenses/bundled/%s" % (info_dir, lic) not in names:
                problems.append("no %s/licenses/bundled/%s" % (info_dir, lic))
    if problems:
        sys.exit("wheel_tool check: %s:\n  %s" % (base, "\n  ".join(problems)))
    print("checked %s: %s" % (base, ", ".join(sorted(n[len(LIBS_DIR):] for n in libs.values()))))


def summary(wheels):
    def python_tag(wheel):
        digits = re.search(r"-cp(\d)(\d+)-", os.path.basename(wheel))
        return (int(digits.group(1)), int(digits.group(2))) if digits else (0, 0)

    for wheel in sorted(wheels, key=python_tag):
        base = os.path.basename(wheel)
        parts = base[: -len(".whl")].split("-")
        tag = "-".join(parts[-3:])
        print("%-48s %7.1f KiB  %s" % (tag, os.path.getsize(wheel) / 1024.0, base))


def main(argv):
    if len(argv) == 4 and argv[1] == "bundle-licenses":
        bundle_licenses(argv[2], argv[3])
    elif len(argv) == 5 and argv[1] == "check":
        check(argv[2], argv[3], argv[4])
    elif len(argv) >= 3 and argv[1] == "summary":
        summary(argv[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)

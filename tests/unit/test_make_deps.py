"""`make deps` on a fresh Debian 12 installs every program the code and the tests run.

Each program below is looked up on this machine, its Debian package found with
dpkg, and that package must be in one of the Makefile's lists (DEB_RUNTIME,
DEB_TEST, DEB_BENCH) or be one a minimal Debian 12 always has (Priority
required or Essential). A program missing here cannot be traced and is reported.
"""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# program (or full path) -> who runs it
PROGRAMS = {
    "ip": "the test cluster, IPaddr/IPaddr2, heartbeat's media",
    "nft": "partitions between test nodes",
    "unshare": "test nodes", "nsenter": "test nodes", "losetup": "test disks, DRBD device",
    "mount": "Filesystem, tests", "umount": "Filesystem, tests", "blockdev": "tests",
    "fstrim": "tests", "logger": "resource scripts",
    "mkfs.ext4": "tests, README", "mkfs.ext3": "tests", "e2fsck": "tests", "fsck.ext4": "tests",
    "mkfs.xfs": "device tests", "xfs_repair": "device tests",
    "nbdfuse": "DRBD device without kernel nbd", "nbdinfo": "engine tests", "nbdcopy": "engine tests",
    "nbdkit": "harness tests", "nbd-client": "DRBD device with kernel nbd",
    "fusermount3": "DRBD device", "qemu-io": "engine tests", "qemu-img": "NBD client tests",
    "arping": "IPaddr, SendArp", "fuser": "Filesystem", "ping": "tests", "modprobe": "DRBD device",
    "sysctl": "test cluster", "ifconfig": "the real IPaddr as reference",
    "python3": "everything",
    "/usr/libexec/heartbeat/heartbeat": "mixed-cluster tests (real 3.0.6)",
    "/usr/bin/cl_status": "mixed-cluster tests", "/lib/drbd/drbdadm-84": "drbd.conf parity tests",
    "/usr/lib/ocf/resource.d/heartbeat/IPaddr2": "resource script tests (real agents)",
    "fio": "make bench",
}

pytestmark = pytest.mark.skipif(not shutil.which("dpkg-query"), reason="not a Debian system")


def makefile_packages() -> set[str]:
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    found = set()
    for match in re.finditer(r"^DEB_\w+\s*=(.*)$", text, re.M):
        found.update(match.group(1).split())
    return found


def locate(program: str) -> str | None:
    return program if program.startswith("/") and os.path.exists(program) else \
        shutil.which(program, path=SYSTEM_PATH)


def candidates(path: str) -> list[str]:
    """The names dpkg may know PATH by on a merged /usr."""
    real = os.path.realpath(path)
    names = [path, real]
    for p in (path, real):
        names.append(p.removeprefix("/usr") if p.startswith("/usr/") else "/usr" + p)
    return names


def owners(paths: list[str]) -> dict[str, str]:
    """path -> the package that holds it, for the paths some package holds."""
    proc = subprocess.run(["dpkg-query", "-S", *paths], capture_output=True, text=True)
    found = {}
    for line in proc.stdout.splitlines():
        packages, _, path = line.partition(": ")
        if not packages.startswith("diversion"):
            found[path.strip()] = packages.split(",")[0].strip()
    return found


def installed_with(packages: set[str]) -> set[str]:
    """What installing PACKAGES brings along (their Depends and Pre-Depends, recursively)."""
    proc = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
                           "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances",
                           *sorted(packages)], capture_output=True, text=True)
    return {line.strip() for line in proc.stdout.splitlines() if not line.startswith(" ")}


def always_there(package: str) -> bool:
    proc = subprocess.run(["dpkg-query", "-W", "-f=${Priority} ${Essential}", package],
                          capture_output=True, text=True)
    priority, _, essential = proc.stdout.partition(" ")
    return priority == "required" or essential == "yes"


def test_every_program_comes_from_a_package_make_deps_installs():
    listed = makefile_packages()
    brought = installed_with(listed)
    located = {program: locate(program) for program in PROGRAMS}
    absent = [program for program, path in located.items() if path is None]
    held = owners([name for path in located.values() if path for name in candidates(path)])
    unlisted, untraced = [], []
    for program, path in located.items():
        if path is None:
            continue
        package = next((held[name] for name in candidates(path) if name in held), None)
        if package is None:
            untraced.append(f"{program} ({path})")
        elif package not in brought and not always_there(package):
            unlisted.append(f"{program}: package {package} ({PROGRAMS[program]})")
    assert not unlisted, "add to the Makefile's DEB_* lists: " + "; ".join(unlisted)
    assert not untraced, "no Debian package holds: " + "; ".join(untraced)
    # a machine where `make deps` ran has them all; fio comes with `make deps-bench`
    assert set(absent) <= {"fio"}, "not installed here (make deps): " + " ".join(absent)


def test_makefile_lists_name_real_packages():
    # a misspelt name would make apt-get fail on the fresh machine
    listed = sorted(makefile_packages())
    proc = subprocess.run(["apt-cache", "show", "--no-all-versions", *listed],
                          capture_output=True, text=True)
    shown = set(re.findall(r"^Package: (\S+)$", proc.stdout, re.M))
    assert set(listed) <= shown, f"unknown to apt: {sorted(set(listed) - shown)}"

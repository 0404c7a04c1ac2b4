"""Reference parity with drbd-utils' drbdadm-83/-84 on the 8.x samples of the corpus.

The reference runs in a fresh UTS + network namespace (its own `uname -n`, this
host's addresses on its loopback), since it insists on both. Its `dump` output
is read back with our parser, and the facts that matter must agree with what we
read from the original file.
"""
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from drbd_py.config.loader import load_config, load_text

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "drbd")
SAMPLES = sorted(glob.glob(os.path.join(DATA, "v8*", "*.conf"))
                 + glob.glob(os.path.join(DATA, "v84", "*", "drbd.conf")))

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare")
    or not os.path.exists("/lib/drbd/drbdadm-84") or not os.path.exists("/lib/drbd/drbdadm-83"),
    reason="needs root, unshare and drbd-utils' drbdadm-83/-84")


def header(path, key):
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            match = re.match(rf"# {key}: (\S+)", line)
            if match:
                return match.group(1)
    return None


def my_addresses(config, hostname):
    """The address of this host's section in each resource (first floating one if none)."""
    found = []
    for res in config.resources:
        me = res.host_named(hostname) or next((h for h in res.hosts if h.floating), None)
        if me is not None:
            prefix = 128 if me.address.family == "ipv6" else 32
            entry = f"{me.address.host}/{prefix}"
            if entry not in found:
                found.append(entry)
    return found


def in_namespace(hostname, addresses, command):
    script = ('ip link set lo up; for a in "$@"; do ip addr add "$a" dev lo nodad 2>/dev/null '
              '|| ip addr add "$a" dev lo; done; hostname "$0"; exec ' + command)
    return subprocess.run(["unshare", "--uts", "--net", "sh", "-c", script, hostname, *addresses],
                          capture_output=True, text=True, timeout=60)


def facts(config):
    out = {}
    for res in config.resources:
        s = res.settings
        out[res.name] = {
            "hosts": sorted(
                (h.names, h.floating, str(h.address),
                 tuple((v.number, v.device_path, v.minor, v.disk, v.meta_disk, v.meta_index)
                       for v in h.volumes.values()))
                for h in res.hosts),
            "protocol": s.net.protocol or "C",
            "resync_rate": s.disk.resync_rate,
            "al_extents": s.disk.al_extents,
            "handlers": s.handlers,
            "split_brain": (s.net.after_sb_0pri, s.net.after_sb_1pri, s.net.after_sb_2pri,
                            s.net.rr_conflict),
            "auth": (s.net.cram_hmac_alg, s.net.shared_secret),
            "resync_after": s.disk.resync_after,
            "startup": (s.startup.wfc_timeout, s.startup.degr_wfc_timeout),
        }
    return out


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: os.path.relpath(p, DATA))
def test_reference_dump_agrees_on_the_facts(path):
    reference = header(path, "reference")
    hostname = header(path, "host")
    assert reference in ("drbdadm-83", "drbdadm-84"), "every 8.x sample names its reference"
    ours = load_config(path)
    result = in_namespace(hostname, my_addresses(ours, hostname),
                          f"/lib/drbd/{reference} -c {os.path.abspath(path)} dump")
    assert result.returncode == 0, result.stderr
    theirs = load_text(result.stdout, path)
    assert facts(theirs) == facts(ours)


BROKEN = "resource r0 {\nprotocol C\n on alpha { }\n}\n"
GOOD = ("resource r0 {\n protocol C;\n"
        " on alpha { device /dev/drbd0; disk /dev/sda7; address 10.1.1.31:7789;\n"
        "   meta-disk internal; }\n"
        " on bravo { device /dev/drbd0; disk /dev/sda7; address 10.1.1.32:7789;\n"
        "   meta-disk internal; }\n"
        "}\n")


def normalized(text):
    """drbdadm-84's two-line errors joined, its token numbers and program suffix dropped."""
    text = re.sub(r",\n\t", ", ", text.strip()).replace("drbdadm-84:", "drbdadm:")
    return re.sub(r" \(TK \d+\)", "", text).splitlines()[0]


@pytest.mark.parametrize("text, args, code", [
    (BROKEN, ["dump"], 10),
    (GOOD, ["-d", "up", "r9"], 1),
    (GOOD, ["frobnicate", "r0"], 1),
    (GOOD, ["-d", "primary", "--frob", "r0"], 1),
    ("", ["-d", "up", "r0"], 1),
    (GOOD, ["-S", "-d", "up", "all"], 1),
    (GOOD.replace("alpha", "charlie"), ["-d", "up", "all"], 1),
    (GOOD, ["-S", "-d", "primary", "r0"], 1),
    (None, ["dump"], 20),
])
def test_exit_codes_and_messages_match_drbdadm_84(tmp_path, text, args, code):
    conf = tmp_path / "drbd.conf"
    if text is not None:
        conf.write_text(text)
    command = " ".join(["/lib/drbd/drbdadm-84", "-c", str(conf)] + args)
    theirs = in_namespace("alpha", ["10.1.1.31/32"], command)
    ours = in_namespace("alpha", [], shlex.join(
        [sys.executable, "-c", "import sys; from drbd_py.adm.cli import main; sys.exit(main())",
         "-c", str(conf)] + args))
    assert theirs.returncode == ours.returncode == code
    assert normalized(ours.stderr) == normalized(theirs.stderr)


def test_classic_07_file_that_drbd_utils_rejects_is_read_here():
    classic = os.path.abspath(os.path.join(DATA, "v07", "classic.conf"))
    for reference in ("drbdadm-83", "drbdadm-84"):
        theirs = in_namespace("debian-420", [], f"/lib/drbd/{reference} -c {classic} dump")
        assert theirs.returncode == 10 and "but got 'incon-degr-cmd'" in theirs.stderr
    ours = in_namespace("debian-420", [], shlex.join(
        [sys.executable, "-c", "import sys; from drbd_py.adm.cli import main; sys.exit(main())",
         "-c", classic, "sh-ll-dev", "drbd0"]))
    assert (ours.returncode, ours.stdout, ours.stderr) == (0, "/dev/sdb1\n", "")

"""Our ha.cf/authkeys verdicts against the real heartbeat 3.0.6 binary's, file by file.

The real daemon runs in throwaway namespaces (its own network with only lo, its own
hostname `nodea`, the case's directory bind-mounted on /etc/ha.d, tmpfs on /run and
/var/lib/heartbeat). Every case's haresources names an undeclared node, so the real
daemon stops right after validating ha.cf and authkeys ("Configuration validated")
and never starts.
"""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from heartbeat_py.config import ConfigError, parse_hacf, read_authkeys

REAL = "/usr/libexec/heartbeat/heartbeat"
VALIDATED = "Configuration validated."
NODE = "nodea"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.access(REAL, os.X_OK) or not shutil.which("unshare"),
    reason="needs root, unshare and the real heartbeat 3.0.6")

BASE = "node nodea nodeb\nucast lo 127.0.0.2\nauto_failback on\n"
KEYS = "auth 3\n3 md5 Hello!\n"

# (name, ha.cf after the logfile line, authkeys, authkeys mode)
SAME_VERDICT = [
    ("plain", BASE + "keepalive 1\ndeadtime 5\n", KEYS, 0o600),
    ("ms timers", BASE + "keepalive 500ms\ndeadtime 1001ms\ninitdead 12\n", KEYS, 0o600),
    ("boundary", BASE + "keepalive 1\ndeadtime 2\n", KEYS, 0o600),
    ("mcast", BASE + "mcast lo 239.0.0.1 694 1 0\n", KEYS, 0o600),
    ("mcast ttl 4 loop 1", BASE + "mcast lo 239.0.0.1 694 4 1\n", KEYS, 0o600),
    ("mcast ttl 5", BASE + "mcast lo 239.0.0.1 694 5 0\n", KEYS, 0o600),
    ("mcast loop 2", BASE + "mcast lo 239.0.0.1 694 1 2\n", KEYS, 0o600),
    ("mcast unicast group", BASE + "mcast lo 10.0.0.1 694 1 0\n", KEYS, 0o600),
    ("mcast short", BASE + "mcast lo 239.0.0.1 694 1\n", KEYS, 0o600),
    ("bcast lo and udpport first", "udpport 1694\n" + BASE + "bcast lo\n", KEYS, 0o600),
    ("ucast without peer", BASE + "ucast lo\n", KEYS, 0o600),
    ("typo", BASE + "keepalve 2\n", KEYS, 0o600),
    ("capital directive", BASE + "Keepalive 2\n", KEYS, 0o600),
    ("initdead small", BASE + "deadtime 5\ninitdead 3\n", KEYS, 0o600),
    ("several values", BASE + "keepalive 1 2\ndeadtime 5\n", KEYS, 0o600),
    ("value with blank unit", BASE + "keepalive 500 ms\n", KEYS, 0o600),
    ("upper-case node", BASE.replace("nodea", "NodeA") + "crm no\nuuidfrom nodename\nmsgfmt netstring\n", KEYS, 0o600),
    ("this node missing", BASE.replace("nodea ", ""), KEYS, 0o600),
    ("no media", "node nodea\n", KEYS, 0o600),
    ("legacy, nice_failback", BASE + "auto_failback legacy\nnice_failback on\n", KEYS, 0o600),
    ("auto_failback nonsense", BASE + "auto_failback maybe\n", KEYS, 0o600),
    ("uuidfrom bogus", BASE + "uuidfrom bogus\n", KEYS, 0o600),
    ("autojoin any", BASE + "autojoin any\n", KEYS, 0o600),
    ("udpport 0", BASE + "udpport 0\n", KEYS, 0o600),
    ("logfacility", BASE + "logfacility local7\n", KEYS, 0o600),
    ("logfacility bogus", BASE + "logfacility LOCAL7\n", KEYS, 0o600),
    ("baud", BASE + "baud 1234\n", KEYS, 0o600),
    ("watchdog twice", BASE + "watchdog /dev/watchdog\nwatchdog /dev/w2\n", KEYS, 0o600),
    ("env", BASE + "env FOO=bar\nenv =x\n", KEYS, 0o600),
    ("apiauth", BASE + "apiauth ipfail gid=haclient uid=hacluster\n", KEYS, 0o600),
    ("apiauth without ids", BASE + "apiauth ipfail\n", KEYS, 0o600),
    ("ping nodes", BASE + "ping 127.0.0.1\nping_group g 127.0.0.1 127.0.0.2\n", KEYS, 0o600),
    ("hbgenmethod", BASE + "hbgenmethod Time\n", KEYS, 0o600),
    ("debug", BASE + "debug 3\nhopfudge 2\nrealtime off\ncoredumps no\n", KEYS, 0o600),
    ("udp alias", BASE + "udp lo\n", KEYS, 0o600),
    ("comments and CRs", "# c\r\n" + BASE.replace("\n", " # x\r\n"), KEYS, 0o600),
    ("key crc", BASE, "auth 1\n1 crc\n", 0o600),
    ("key sha1 with spaces", BASE, "auth 2\n2 sha1 two words\n", 0o600),
    ("auth without key", BASE, "auth 2\n3 md5 Hello!\n", 0o600),
    ("no auth line", BASE, "3 md5 Hello!\n", 0o600),
    ("crc with key", BASE, "auth 1\n1 crc key\n", 0o600),
    ("sha1 without key", BASE, "auth 1\n1 sha1\n", 0o600),
    ("method case", BASE, "auth 1\n1 MD5 x\n", 0o600),
    ("index 16", BASE, "auth 16\n16 md5 x\n", 0o600),
    ("world-readable keys", BASE, KEYS, 0o644),
    ("group-readable keys", BASE, KEYS, 0o640),
]

# Where we knowingly differ (the real daemon's verdict first): units 3.0.6 refuses,
# and a key file others may write, which 3.0.6 lets through.
DIFFERENT = [
    ("seconds unit", BASE + "deadtime 20s\n", KEYS, 0o600, False, True),
    ("minutes unit", BASE + "initdead 1min\n", KEYS, 0o600, False, True),
    ("group-writable keys", BASE, KEYS, 0o620, True, False),
]


def ours(confdir: Path) -> bool:
    try:
        cf = parse_hacf((confdir / "ha.cf").read_bytes(), str(confdir / "ha.cf"))
        read_authkeys(str(confdir / "authkeys"))
    except ConfigError:
        return False
    return cf.is_node(NODE)


def real_verdicts(tmp_path, cases) -> dict[str, tuple[bool, str]]:
    """Run the real daemon once per case inside one set of namespaces."""
    dirs = []
    for i, (name, hacf, keys, mode, *_) in enumerate(cases):
        confdir = tmp_path / f"case{i}"
        confdir.mkdir()
        (confdir / "ha.cf").write_text(f"logfile {tmp_path}/log{i}\n" + hacf)
        (confdir / "authkeys").write_text(keys)
        (confdir / "authkeys").chmod(mode)
        (confdir / "haresources").write_text("not-a-node 127.0.0.9\n")
        dirs.append(str(confdir))
    script = f"""
hostname {NODE}; ip link set lo up
mount -t tmpfs tmpfs /run; mount -t tmpfs tmpfs /var/lib/heartbeat
for d in "$@"; do
  mount --bind "$d" /etc/ha.d
  echo "=== $d"
  timeout 10 {REAL} 2>&1
  umount /etc/ha.d
done
"""
    result = subprocess.run(["unshare", "-m", "-u", "-n", "--propagation", "private", "sh", "-c", script, "sh",
                             *dirs], capture_output=True, text=True, timeout=120)
    outputs = result.stdout.split("=== ")[1:]
    assert len(outputs) == len(cases), result.stderr
    return {name: (VALIDATED in out, out) for (name, *_), out in zip(cases, outputs)}


def test_same_verdict_as_heartbeat_306(tmp_path):
    verdicts = real_verdicts(tmp_path, SAME_VERDICT)
    mismatches = []
    for i, (name, *_) in enumerate(SAME_VERDICT):
        real, output = verdicts[name]
        if ours(tmp_path / f"case{i}") != real:
            mismatches.append(f"{name}: real {'accepts' if real else 'refuses'}\n{output}")
    assert not mismatches, "\n".join(mismatches)
    assert sum(real for real, _ in verdicts.values()) >= 15     # both kinds of verdict exercised


def test_known_differences_still_hold(tmp_path):
    verdicts = real_verdicts(tmp_path, DIFFERENT)
    for i, (name, _, _, _, real_expected, ours_expected) in enumerate(DIFFERENT):
        assert verdicts[name][0] is real_expected, verdicts[name][1]
        assert ours(tmp_path / f"case{i}") is ours_expected, name

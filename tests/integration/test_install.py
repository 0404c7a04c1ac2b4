"""`make install` / `make uninstall` in scratch roots (DESTDIR): the programs at their
legacy paths, an admin's files set aside and put back, configuration never written,
uninstall leaving the root exactly as it was; then the installed tree run in a test node
through its init scripts."""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.cluster import wait_until
from tests.cluster.node import SYSTEM_PATH

REPO = Path(__file__).resolve().parents[2]
LIB = "usr/lib/heartbeat-drbd-py"
SAVED = "var/lib/heartbeat-drbd-py/saved"

# every path an admin's scripts, init scripts or unit files may name
PROGRAMS = {
    "heartbeat": ["usr/lib/heartbeat/heartbeat", "usr/sbin/heartbeat",
                  "usr/libexec/heartbeat/heartbeat"],
    "cl_status": ["usr/bin/cl_status"],
    "hb_standby": ["usr/share/heartbeat/hb_standby", "usr/lib/heartbeat/hb_standby",
                   "usr/bin/hb_standby"],
    "hb_takeover": ["usr/share/heartbeat/hb_takeover", "usr/lib/heartbeat/hb_takeover",
                    "usr/bin/hb_takeover"],
    "drbdadm": ["usr/sbin/drbdadm", "sbin/drbdadm"],
    "drbdsetup-py": ["usr/sbin/drbdsetup-py"],
    "drbd-py-engine": ["usr/sbin/drbd-py-engine"],
    "drbd-overview": ["usr/sbin/drbd-overview"],
}
CONFIG = {"etc/ha.d/ha.cf": "# admin's ha.cf\nkeepalive 2\ndeadtime 30\nbcast eth0\n"
                            "node alpha beta\n",
          "etc/ha.d/haresources": "alpha 192.0.2.100\n",
          "etc/ha.d/authkeys": "auth 1\n1 sha1 admins-secret\n",
          "etc/drbd.conf": (REPO / "etc" / "drbd.conf").read_text()}
DEBIAN = {"etc/init.d/heartbeat": "#!/bin/sh\n# Debian's heartbeat init script\n",
          "etc/init.d/drbd": "#!/bin/sh\n# drbd-utils' init script\n",
          "etc/ha.d/resource.d/IPaddr": "#!/bin/sh\n# resource-agents' IPaddr\n",
          "usr/libexec/heartbeat/heartbeat": "ELF: heartbeat 3.0.6\n",
          "usr/sbin/drbdadm": "ELF: drbdadm 9\n",
          "lib/systemd/system/heartbeat.service": "[Service]\nExecStart=/usr/libexec/x\n",
          "etc/ha.d/resource.d/MyService": "#!/bin/sh\n# the admin's own resource\n"}


def make(target, root):
    done = subprocess.run(["make", "-s", "-C", str(REPO), target, f"DESTDIR={root}"],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def listing(root: Path) -> dict:
    """Every entry under root: kind, mode, and the content's hash or the link's target."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            rel = str(path.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                found[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                found[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                found[rel] = ("file", stat.S_IMODE(st.st_mode),
                              hashlib.sha256(path.read_bytes()).hexdigest())
    return found


def write(root: Path, files: dict, mode=0o644):
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)


def debian12_root(root: Path) -> Path:
    """What a Debian 12 pair carries before the switch: /bin, /sbin, /lib merged into /usr,
    Debian's heartbeat and drbd-utils files, and the admin's configuration."""
    for d in ("bin", "sbin", "lib"):
        (root / "usr" / d).mkdir(parents=True)
        (root / d).symlink_to(f"usr/{d}")
    (root / "usr/share/doc").mkdir(parents=True)      # pre-existing, empty: must stay
    write(root, DEBIAN, mode=0o755)
    write(root, CONFIG)
    (root / "etc/ha.d/authkeys").chmod(0o600)
    (root / "etc/heartbeat").symlink_to("ha.d")
    return root


def run_installed(root: Path, path: str, *args, env=None):
    """An installed program, its private lib taken from DESTDIR (the wrapper names the
    final path, which does not exist on this machine)."""
    full = dict(os.environ, PYTHONPATH=str(root / LIB), **(env or {}))
    return subprocess.run([str(root / path), *args], capture_output=True, text=True,
                          env=full, timeout=60)


def check_programs(root: Path):
    for name, paths in PROGRAMS.items():
        real = root / paths[0]
        assert real.is_file() and not real.is_symlink(), paths[0]
        assert os.access(real, os.X_OK), paths[0]
        first = real.read_text().splitlines()[0]
        assert first.startswith("#!/") and "python" in first, first
        for other in paths[1:]:
            assert (root / other).resolve() == real.resolve(), f"{other} -> {paths[0]}"


def test_debian_12_root_install_reinstall_uninstall(tmp_path):
    root = debian12_root(tmp_path / "root")
    before = listing(root)
    out = make("install", root)
    check_programs(root)
    assert "set aside /etc/init.d/heartbeat" in out
    # Debian's files now wait in the saved tree, not beside ours
    for rel, text in DEBIAN.items():
        if rel.endswith("MyService"):
            continue
        assert (root / SAVED / rel).read_text() == text, rel
    assert sorted(os.listdir(root / "etc/init.d")) == ["drbd", "heartbeat"]
    ours = sorted(p.name for p in (REPO / "resource.d").iterdir())
    assert sorted(os.listdir(root / "etc/ha.d/resource.d")) == sorted(ours + ["MyService"])
    for name in ours:
        src, dst = REPO / "resource.d" / name, root / "etc/ha.d/resource.d" / name
        assert dst.read_bytes() == src.read_bytes()
        assert os.access(dst, os.X_OK) == os.access(src, os.X_OK), name
    for name in ("heartbeat", "drbd"):
        assert (root / "etc/init.d" / name).read_bytes() == \
            (REPO / "etc/init.d" / name).read_bytes()
        unit = (root / "lib/systemd/system" / f"{name}.service").read_text()
        assert f"ExecStart=/etc/init.d/{name} start" in unit
        assert f"ExecStop=/etc/init.d/{name} stop" in unit
    # the admin's configuration is untouched; the examples are documentation only
    after = listing(root)
    for rel in list(CONFIG) + ["etc/ha.d/resource.d/MyService", "etc/heartbeat"]:
        assert after[rel] == before[rel], rel
    assert (root / "usr/share/doc/heartbeat-drbd-py/examples/ha.d/ha.cf").is_file()

    # the installed programs answer
    r = run_installed(root, "usr/sbin/heartbeat", "--help")
    assert r.returncode == 0 and r.stdout.startswith("Usage: heartbeat"), r
    r = run_installed(root, "usr/libexec/heartbeat/heartbeat", "--check",
                      env={"HA_DIR": str(root / "etc/ha.d")})
    assert r.returncode == 0 and "configuration OK" in r.stdout, r
    r = run_installed(root, "sbin/drbdadm", "-c", str(root / "etc/drbd.conf"), "dump")
    assert r.returncode == 0 and "resource drbd0 {" in r.stdout, r
    r = run_installed(root, "usr/bin/cl_status", "hbstatus", env={"HBPY_ROOT": str(tmp_path)})
    assert (r.returncode, r.stdout) == (1, "Heartbeat is stopped on this machine.\n"), r
    r = run_installed(root, "usr/bin/hb_standby", "sideways")
    assert r.returncode == 1 and "wrong resources(sideways)." in r.stdout, r
    for path in ("usr/sbin/drbd-overview", "usr/sbin/drbdsetup-py", "usr/sbin/drbd-py-engine"):
        r = run_installed(root, path, "--help")
        assert r.returncode == 0 and "Usage:" in r.stdout, (path, r)
    if shutil.which("systemd-analyze"):
        units = [str(root / "lib/systemd/system" / f"{n}.service") for n in ("heartbeat", "drbd")]
        r = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    # running them wrote nothing into the installed tree (byte-compiled at install)
    assert listing(root) == after

    # install again: the same tree, Debian's files still set aside once (the private
    # folder's contents are compared by name: they come from the checkout as it is now)
    make("install", root)
    again = listing(root)
    assert {k: v[0] for k, v in again.items()} == {k: v[0] for k, v in after.items()}
    assert {k: v for k, v in again.items() if not k.startswith(LIB)} == \
        {k: v for k, v in after.items() if not k.startswith(LIB)}

    out = make("uninstall", root)
    assert "restored /etc/init.d/heartbeat" in out
    assert listing(root) == before
    assert "nothing installed" in make("uninstall", root)


def test_2006_etc_heartbeat_layout_and_unmerged_root(tmp_path):
    """Debian's 2006 layout kept a real /etc/heartbeat: the scripts go beside its ha.cf.
    Without merged /usr, /sbin/drbdadm is a link of its own."""
    root = tmp_path / "root"
    write(root, {"etc/heartbeat/ha.cf": CONFIG["etc/ha.d/ha.cf"]})
    before = listing(root)
    make("install", root)
    assert not (root / "etc/ha.d").exists()
    assert (root / "etc/heartbeat/resource.d/IPaddr").read_bytes() == \
        (REPO / "resource.d/IPaddr").read_bytes()
    assert (root / "sbin/drbdadm").is_symlink()
    check_programs(root)
    assert (root / "etc/heartbeat/ha.cf").read_text() == CONFIG["etc/ha.d/ha.cf"]
    make("uninstall", root)
    assert listing(root) == before


# -- the README's switch of a DRBD pair, with the installed tree in test nodes -----------

HA_CF = """\
logfile /var/log/ha-log
keepalive 250ms
deadtime 1500ms
initdead 1500ms
ucast eth0 {peer}
node alpha beta
auto_failback on
"""
# a 0.7 file, as the example: no startup section, so /etc/init.d/drbd waits for the peer
DRBD_CONF = """resource drbd0 {{
protocol C;
incon-degr-cmd "echo degraded";
syncer {{ rate 100M; group 1; al-extents 7; }}
net {{ connect-int 1; }}
on alpha {{ device /dev/drbd1; disk {alpha}; address 192.0.2.11:7789; meta-disk internal; }}
on beta {{ device /dev/drbd1; disk {beta}; address 192.0.2.12:7789; meta-disk internal; }}
}}
"""
VIP = "192.0.2.100"
ENV = {"PATH": SYSTEM_PATH, "HBPY_RQSTDELAY": "1"}
DATA = "written under the old DRBD"


def sh(node, cmd, check=True, timeout=60):
    return node.run(cmd, env=ENV, check=check, timeout=timeout)


def serves(node):
    """(role, VIP here, the file read through the mounted /dev/drbd1)."""
    role = sh(node, "drbdadm state drbd0").stdout.split("/")[0]
    vip = VIP in sh(node, "ip -o addr show eth0").stdout
    mounted = "/dev/drbd1 /mnt/nd0 ext3" in sh(node, "cat /proc/mounts").stdout
    data = sh(node, "cat /mnt/nd0/old-file").stdout if mounted else None
    return role, vip, data


def installed_node(node, root, peer, disks):
    """The node sees DESTDIR's /usr over the host's, its /etc/init.d and resource.d."""
    node.run(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={root}/usr:/usr", "/usr"])
    (node.root / "mnt").mkdir()
    node.bind(node.root / "mnt", "/mnt")
    node.bind(root / "etc/init.d", "/etc/init.d")
    node.bind(root / "etc/ha.d/resource.d", "/etc/ha.d/resource.d")
    for prog in ("drbdadm", "heartbeat", "cl_status"):
        found = sh(node, f"command -v {prog}").stdout.strip()
        assert f"{prog}: installed by heartbeat-drbd-py" in node.read_file(found), found
    node.write_file("/etc/drbd.conf", DRBD_CONF.format(**disks))
    node.write_file("/etc/ha.d/ha.cf", HA_CF.format(peer=peer.ip))
    node.write_file("/etc/ha.d/authkeys", "auth 1\n1 sha1 secret\n", mode=0o600)
    node.write_file("/etc/ha.d/haresources",
                    f"alpha {VIP}/24/eth0 drbddisk::drbd0 Filesystem::/dev/drbd1::/mnt/nd0::ext3\n")


def test_readme_switch_of_a_drbd_pair_with_the_installed_tree(cluster, tmp_path):
    """README "Switching a DRBD pair": both disks carry the file system the kernel DRBD
    served (smaller than the disk: 0.7 kept 128 MiB of meta-data at its end). beta
    switches first and serves alone; then alpha switches, resyncs from beta and takes
    its group back. Everything runs from the installed tree, through its init scripts."""
    root = tmp_path / "root"
    for d in ("bin", "sbin", "lib"):
        (root / "usr" / d).mkdir(parents=True)
        (root / d).symlink_to(f"usr/{d}")
    make("install", root)
    c = cluster("alpha", "beta")
    alpha, beta = c["alpha"], c["beta"]
    disks = {"alpha": alpha.loop_device("160M"), "beta": beta.loop_device("160M")}
    for node, peer in ((alpha, beta), (beta, alpha)):
        installed_node(node, root, peer, disks)
    sh(alpha, f"mke2fs -q -j -F {disks['alpha']} 32768")            # 32 MiB of 160 MiB
    sh(alpha, f"mkdir /mnt/old && mount {disks['alpha']} /mnt/old && "
              f"printf '{DATA}' > /mnt/old/old-file && umount /mnt/old")
    sh(beta, f"dd if={disks['alpha']} of={disks['beta']} bs=1M count=32 status=none")

    # beta: meta-data of our own (the file system stays), its data declared the good copy
    r = sh(beta, "drbdadm -- --force create-md drbd0")
    assert "kB data area apparently used" in r.stdout, r
    sh(beta, "drbdadm up drbd0")
    sh(beta, "drbdadm -- --do-what-I-say primary drbd0")
    sh(beta, "drbdadm secondary drbd0")
    sh(beta, "/etc/init.d/heartbeat start")
    wait_until(lambda: serves(beta) == ("Primary", True, DATA), 30, message="beta serves")

    # alpha: the same, then the full resync from beta, then heartbeat (failback)
    sh(alpha, "drbdadm -- --force create-md drbd0")
    r = sh(alpha, "/etc/init.d/drbd start")
    assert r.stdout == "Starting DRBD resources: done.\n", r
    wait_until(lambda: sh(alpha, "drbdadm dstate drbd0").stdout.strip() == "UpToDate/UpToDate",
               60, message="alpha resynced")
    sh(alpha, "/etc/init.d/heartbeat start")
    wait_until(lambda: serves(alpha) == ("Primary", True, DATA), 30, message="alpha serves")
    assert serves(beta) == ("Secondary", False, None)

    for node in (beta, alpha):
        r = sh(node, "/etc/init.d/heartbeat stop")
        assert r.stdout == "Stopping High-Availability services: Done.\n\n", r
    for node in (alpha, beta):
        r = sh(node, "/etc/init.d/drbd stop")
        assert r.stdout == "Stopping all DRBD resources: done.\n", r
        wait_until(lambda: not node.pids(), 10, message=f"{node.name}: all stopped")

"""The DRBD engine on the two-node test cluster, driven as an admin drives DRBD:
/etc/drbd.conf, drbdadm, the NBD socket of the volume, kill -9, partitions."""
import hashlib
import json
import os
import re
import sys
import time

import pytest

from tests.cluster import wait_until

ENV = {"DRBD_PY_DEVICES": "0"}
SOCK = "/run/drbd-py/nbd/1.sock"
URI = f"nbd+unix:///?socket={SOCK}"
MiB = 1 << 20

CONF = """global {{ usage-count no; }}
resource r0 {{
  protocol {protocol};
  syncer {{ rate {rate}; {syncer} }}
  net {{ ping-int 2; connect-int 2; timeout 15; ping-timeout 10; {net} }}
  on alpha {{ device /dev/drbd1; disk {da}; address 192.0.2.11:7789; meta-disk internal; }}
  on beta  {{ device /dev/drbd1; disk {db}; address 192.0.2.12:7789; meta-disk internal; }}
}}
"""


def drbdadm(node, args, check=True, timeout=60):
    return node.run(f"drbdadm {args}", env=ENV, check=check, timeout=timeout)


def status(node):
    out = node.run("drbdsetup-py status r0", env=ENV, check=False).stdout
    found = json.loads(out) if out.strip() else []
    return found[0] if found else {}


def states(node):
    s = status(node)
    vol = (s.get("volumes") or [{}])[0]
    return vol.get("cstate"), f"{vol.get('disk')}/{vol.get('peer_disk')}", s.get("role")


def wait_states(node, cs=None, ds=None, timeout=60):
    def ok():
        c, d, _ = states(node)
        return (cs is None or c == cs) and (ds is None or d == ds)
    wait_until(ok, timeout, interval=0.1,
               message=f"{node.name}: cs={cs} ds={ds} (now {states(node)})")


def log_of(node):
    return node.read_file("/var/log/drbd-py-engine.log", missing_ok=True) or ""


def disk_hash(node, dev, length):
    out = node.run(f"head -c {length} {dev} | sha256sum").stdout
    return out.split()[0]


def qemu_io(node, command, check=True):
    return node.run(["qemu-io", "-f", "raw", "-c", command, URI], check=check, timeout=120)


class Pair:
    def __init__(self, cluster, size="64M", protocol="C", rate="200M", syncer="", net="",
                 net_a=None, net_b=None):
        self.c = cluster("alpha", "beta")
        self.a, self.b = self.c["alpha"], self.c["beta"]
        self.da, self.db = self.a.loop_device(size), self.b.loop_device(size)
        for node, extra in ((self.a, net_a), (self.b, net_b)):
            node.write_file("/etc/drbd.conf", CONF.format(
                protocol=protocol, rate=rate, syncer=syncer,
                net=net if extra is None else extra, da=self.da, db=self.db))
        for node in (self.a, self.b):
            drbdadm(node, "create-md r0")

    def up(self, *nodes):
        for node in nodes or (self.a, self.b):
            drbdadm(node, "up r0")

    def initial_sync(self, timeout=120):
        self.up()
        wait_states(self.a, "Connected", "Inconsistent/Inconsistent")
        drbdadm(self.a, "-- --overwrite-data-of-peer primary r0")
        wait_states(self.a, "Connected", "UpToDate/UpToDate", timeout)
        wait_states(self.b, "Connected", "UpToDate/UpToDate", timeout)

    def data_size(self):
        return status(self.a)["volumes"][0]["size"]


def test_initial_full_sync_and_status(cluster):
    p = Pair(cluster)
    p.initial_sync()
    size = p.data_size()
    assert disk_hash(p.a, p.da, size) == disk_hash(p.b, p.db, size)
    text = p.b.read_file("/run/drbd-py/proc-drbd")
    assert re.search(r"^ 1: cs:Connected st:Secondary/Primary ds:UpToDate/UpToDate C r---$",
                     text, re.M), text
    assert drbdadm(p.a, "state r0").stdout.strip() == "Primary/Secondary"
    assert drbdadm(p.b, "dstate r0").stdout.strip() == "UpToDate/UpToDate"
    assert "Began resync as SyncTarget" in log_of(p.b)
    # the Secondary's socket serves reads and refuses writes
    refused = p.b.run(["qemu-io", "-f", "raw", "-c", "write -P 1 0 4k", URI], check=False)
    assert refused.returncode != 0 or "error" in (refused.stdout + refused.stderr).lower()
    assert p.b.run(["qemu-io", "-r", "-f", "raw", "-c", "read 0 4k", URI]).returncode == 0
    assert disk_hash(p.a, p.da, size) == disk_hash(p.b, p.db, size)


def test_protocol_c_256mib_nbdcopy_then_kill_primary(cluster, tmp_path):
    p = Pair(cluster, size="300M")
    p.initial_sync()
    src = tmp_path / "random.img"
    with open(src, "wb") as f:
        for _ in range(256):
            f.write(os.urandom(MiB))
    want = hashlib.sha256(src.read_bytes()).hexdigest()
    # kill -9 the Primary's engine the moment nbdcopy returns
    p.a.run(f"nbdcopy {src} '{URI}' && kill -9 $(cat /run/drbd-py/engine.pid)", timeout=300)
    wait_states(p.b, "WFConnection")
    assert disk_hash(p.b, p.db, 256 * MiB) == want


@pytest.mark.parametrize("protocol", ["A", "B"])
def test_protocols_a_and_b_replicate(cluster, tmp_path, protocol):
    p = Pair(cluster, protocol=protocol)
    p.initial_sync()
    src = tmp_path / "random.img"
    src.write_bytes(os.urandom(32 * MiB))
    p.a.run(f"nbdcopy {src} '{URI}'", timeout=120)
    want = hashlib.sha256(src.read_bytes()).hexdigest()
    wait_until(lambda: disk_hash(p.b, p.db, 32 * MiB) == want, 20,
               message=f"protocol {protocol} data on beta")
    assert f" {protocol} r---" in p.a.read_file("/run/drbd-py/proc-drbd")


def test_partition_resyncs_only_the_changed_blocks(cluster, tmp_path):
    p = Pair(cluster)
    p.initial_sync()
    p.c.partition("alpha", "beta")
    src = tmp_path / "eight.img"
    src.write_bytes(os.urandom(8 * MiB))
    # the writes wait until the Primary gives up on its peer, then go on alone
    p.a.run(f"nbdcopy {src} '{URI}'", timeout=120)
    wait_states(p.a, "WFConnection", "UpToDate/DUnknown")
    assert status(p.a)["volumes"][0]["oos"] == 8 * MiB
    p.c.heal()
    wait_states(p.b, "Connected", "UpToDate/UpToDate")
    wait_states(p.a, "Connected", "UpToDate/UpToDate")
    assert status(p.b)["volumes"][0]["last_sync_total"] == 8 * MiB
    assert "Began resync as SyncTarget (will sync 8192 KB [2048 bits set])." in log_of(p.b)
    size = p.data_size()
    assert disk_hash(p.a, p.da, size) == disk_hash(p.b, p.db, size)


def test_crashed_primary_returns_as_sync_target(cluster):
    p = Pair(cluster, size="128M")
    p.initial_sync()
    qemu_io(p.a, "write -P 0x11 0 16M")                 # acknowledged before the crash
    # 1 MiB writes one after another, each reported once acknowledged
    writer = p.a.spawn(["sh", "-c", "for i in $(seq 16 39); do qemu-io -f raw -c "
                        f"\"write -P 0x22 ${{i}}M 1M\" '{URI}' >/dev/null || exit 1; "
                        "echo done $i; done"])
    wait_until(lambda: writer.output().count("done") >= 3, 30, message="writes under way")
    p.a.reboot()                                        # crash: every process killed
    assert writer.wait(10) is not None
    acked = [int(line.split()[1]) for line in writer.output().splitlines()
             if line.startswith("done ")]
    assert len(acked) < 24, "the writes were over before the crash"
    wait_states(p.b, "WFConnection", "UpToDate/DUnknown")
    drbdadm(p.b, "primary r0")
    p.b.run(["qemu-io", "-f", "raw", *(a for i in acked for a in ("-c", f"read -P 0x22 {i}M 1M")),
             URI], timeout=120)
    qemu_io(p.b, "write -P 0x33 40M 4M")
    drbdadm(p.a, "up r0")
    wait_states(p.a, "Connected", "UpToDate/UpToDate")
    wait_states(p.b, "Connected", "UpToDate/UpToDate")
    assert "Began resync as SyncTarget" in log_of(p.a).split("attached to UUIDs")[-1]
    # the crashed node's activity log (the extents written, and up to 7 taken ahead by
    # sequential writing: docs/drbd-metadata.md) and beta's new writes, not the whole disk
    assert status(p.a)["volumes"][0]["last_sync_total"] <= 48 * MiB < p.data_size()
    assert states(p.a)[2] == "Secondary" and states(p.b)[2] == "Primary"
    qemu_io(p.b, "read -P 0x11 0 16M")                  # nothing acknowledged was lost
    qemu_io(p.b, "read -P 0x33 40M 4M")
    size = p.data_size()
    assert disk_hash(p.a, p.da, size) == disk_hash(p.b, p.db, size)


def test_split_brain_detected_and_resolved(cluster):
    p = Pair(cluster, net="after-sb-0pri disconnect; after-sb-1pri disconnect; "
                          "after-sb-2pri disconnect;")
    p.initial_sync()
    p.c.partition("alpha", "beta")
    cut = time.monotonic()
    wait_states(p.b, "WFConnection")
    wait_states(p.a, "WFConnection")
    # an idle link: found dead by ping-int (2 s) + ping-timeout (1 s)
    assert time.monotonic() - cut < 2 + 1 + 2
    for node in (p.a, p.b):
        assert "PingAck did not arrive in time." in log_of(node)
    drbdadm(p.b, "-- --overwrite-data-of-peer primary r0")
    qemu_io(p.a, "write -P 0xaa 0 4M")
    qemu_io(p.b, "write -P 0xbb 8M 4M")
    p.c.heal()
    wait_states(p.a, "StandAlone", timeout=30)
    wait_states(p.b, "StandAlone", timeout=30)
    for node in (p.a, p.b):
        assert "Split-Brain detected but unresolved, dropping connection!" in log_of(node)
    qemu_io(p.a, "read -P 0xaa 0 4M")                   # each keeps its data
    qemu_io(p.b, "read -P 0xbb 8M 4M")
    drbdadm(p.b, "secondary r0")
    drbdadm(p.b, "-- --discard-my-data connect r0")
    drbdadm(p.a, "connect r0")
    wait_states(p.b, "Connected", "UpToDate/UpToDate")
    wait_states(p.a, "Connected", "UpToDate/UpToDate")
    size = p.data_size()
    assert disk_hash(p.a, p.da, size) == disk_hash(p.b, p.db, size)
    assert "Split-Brain detected, manually solved. Sync from peer node" in log_of(p.b)


def test_wrong_shared_secret_never_connects(cluster):
    p = Pair(cluster, net_a='cram-hmac-alg sha1; shared-secret "right";',
             net_b='cram-hmac-alg sha1; shared-secret "wrong";')
    p.up()
    for node in (p.a, p.b):
        wait_states(node, "StandAlone", timeout=20)
    assert "Authentication of peer failed" in log_of(p.a) + log_of(p.b)
    time.sleep(3)
    assert states(p.a)[0] == "StandAlone" and states(p.b)[0] == "StandAlone"
    assert "Handshake successful" not in log_of(p.a) + log_of(p.b)


def test_resync_rate_is_honoured(cluster):
    p = Pair(cluster, size="32M", rate="8M")
    p.up()
    wait_states(p.a, "Connected", "Inconsistent/Inconsistent")
    start = time.monotonic()
    drbdadm(p.a, "-- --overwrite-data-of-peer primary r0")
    wait_states(p.b, "Connected", "UpToDate/UpToDate", timeout=60)
    elapsed = time.monotonic() - start
    synced = status(p.b)["volumes"][0]["last_sync_total"]
    rate = synced / elapsed
    assert 0.9 * 8 * MiB <= rate <= 1.1 * 8 * MiB, f"{rate / MiB:.2f} MiB/s"


def test_garbage_on_replication_port_and_nbd_socket(cluster):
    p = Pair(cluster)
    p.initial_sync()
    junk = ("import os, socket, sys\n"
            "fam, addr = (socket.AF_UNIX, sys.argv[1]) if sys.argv[1].startswith('/') "
            "else (socket.AF_INET, (sys.argv[1], int(sys.argv[2])))\n"
            "for blob in (b'GET / HTTP/1.0\\r\\n\\r\\n', os.urandom(65536), b'DRPY' + b'\\xff' * 64):\n"
            "    s = socket.socket(fam); s.connect(addr)\n"
            "    try:\n        s.sendall(blob); s.settimeout(10); s.recv(100)\n"
            "    except OSError: pass\n"
            "    s.close()\n")
    p.a.run([sys.executable, "-c", junk, "192.0.2.12", "7789"])
    p.b.run([sys.executable, "-c", junk, SOCK])
    assert p.b.run(["nbdinfo", "--size", URI]).stdout.strip() == str(p.data_size())
    assert states(p.b)[:2] == ("Connected", "UpToDate/UpToDate")
    qemu_io(p.a, "write -P 0x5a 0 1M")
    wait_until(lambda: disk_hash(p.a, p.da, MiB) == disk_hash(p.b, p.db, MiB), 10)


def test_device_on_the_primary_and_demotion_refused_while_mounted(cluster):
    p = Pair(cluster)
    env = {}                                   # with /dev/drbd1 this time
    for node in (p.a, p.b):
        node.run("drbdadm up r0", env=env)
    wait_states(p.a, "Connected", "Inconsistent/Inconsistent")
    p.a.run("drbdadm -- --overwrite-data-of-peer primary r0", env=env)
    wait_states(p.b, "Connected", "UpToDate/UpToDate")
    wait_until(lambda: p.a.exists("/dev/drbd1"), 20, message="/dev/drbd1 on alpha")
    assert not p.b.exists("/dev/drbd1")
    p.a.run("mkfs.ext4 -q -F /dev/drbd1 && mkdir -p /run/r0 && mount /dev/drbd1 /run/r0 "
            "&& echo hello > /run/r0/file && sync", timeout=120)
    refused = p.a.run("drbdadm secondary r0", env=env, check=False)
    assert refused.returncode == 11, refused.stdout + refused.stderr
    assert "Device is held open by someone" in refused.stderr
    refused = p.a.run("drbdadm down r0", env=env, check=False)
    assert refused.returncode != 0 and states(p.a)[2] == "Primary"
    assert p.a.run("cat /run/r0/file").stdout == "hello\n"     # still mounted, untouched
    p.a.run("umount /run/r0")
    p.a.run("drbdadm secondary r0", env=env)
    assert not p.a.exists("/dev/drbd1")
    # the file system is on the peer, which can take over
    p.b.run("drbdadm primary r0", env=env)
    wait_until(lambda: p.b.exists("/dev/drbd1"), 20, message="/dev/drbd1 on beta")
    p.b.run("mkdir -p /run/r0 && mount /dev/drbd1 /run/r0")
    assert p.b.run("cat /run/r0/file").stdout == "hello\n"
    p.b.run("umount /run/r0 && drbdadm secondary r0", env=env)


CONF_07 = """resource r0 {{
  protocol C;
  incon-degr-cmd "true";
  syncer {{ rate 200M; group 1; }}
  net {{ ping-int 2; connect-int 2; timeout 15; }}
  on alpha {{ device /dev/drbd1; disk {da}; address 192.0.2.11:7789; meta-disk internal; }}
  on beta  {{ device /dev/drbd1; disk {db}; address 192.0.2.12:7789; meta-disk internal; }}
}}
"""


def test_07_config_needs_no_create_md_and_8x_config_does(cluster):
    c = cluster("alpha", "beta")
    a, b = c["alpha"], c["beta"]
    conf = CONF_07.format(da=a.loop_device("64M"), db=(db := b.loop_device("64M")))
    a.write_file("/etc/drbd.conf", "global { usage-count no; }\n" + conf)
    out = drbdadm(a, "up r0", check=False)
    assert out.returncode == 10, out
    assert "No valid meta-data signature found" in out.stdout + out.stderr
    assert "drbdadm create-md" in out.stdout + out.stderr
    drbdadm(a, "down r0")
    for node in (a, b):
        node.write_file("/etc/drbd.conf", conf)
    # a file system filling beta's disk: creating meta-data would cut it off
    b.run(["mkfs.ext3", "-q", "-F", db])
    out = drbdadm(b, "up r0", check=False)
    assert out.returncode == 40, out
    assert "'drbdadm create-md r0'" in out.stdout + out.stderr
    b.run(["e2fsck", "-n", "-f", db])
    drbdadm(b, "down r0")
    b.run(["dd", "if=/dev/zero", f"of={db}", "bs=1M", "count=64", "conv=fsync",
           "status=none"])
    drbdadm(a, "up r0")
    drbdadm(b, "up r0")
    wait_states(a, "Connected", "Inconsistent/Inconsistent")
    for node in (a, b):
        assert "drbd1: Creating state block" in log_of(node)
    drbdadm(a, "-- --do-what-I-say primary r0")
    wait_states(b, "Connected", "UpToDate/UpToDate")

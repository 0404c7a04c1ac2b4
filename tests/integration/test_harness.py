"""The test cluster itself: each node is its own machine as far as the
software under test can tell, partitions cut both ways, and nothing
survives teardown."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tests.cluster import ClusterError, CommandFailed, WaitTimeout, wait_until
from tests.cluster.procs import is_alive, netns_inode, pids_in_netns
from tests.cluster.run import dead_runs, namespaces_of, sweep
from tests.cluster.storage import attachment

# A UDP listener in the style of heartbeat's bcast medium (port 694),
# printing every datagram it gets.
LISTEN = textwrap.dedent("""
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 694))
    print("listening", flush=True)
    while True:
        data, peer = s.recvfrom(1500)
        print(peer[0], data.decode(), flush=True)
""")
BROADCAST = textwrap.dedent("""
    import socket, sys
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.sendto(sys.argv[1].encode(), ("192.0.2.255", 694))
""")


def host_mounts():
    with open("/proc/self/mountinfo") as f:
        return f.read()


def attachments(*loops):
    """Each loop's current attachment: other test runs on this machine may
    take a device name the moment it is free, so names alone prove nothing."""
    return [attachment(loop) for loop in loops]


def test_wait_until_returns_the_value_or_says_what_it_waited_for():
    values = iter([0, None, "ready"])
    assert wait_until(lambda: next(values), timeout=2, interval=0.01) == "ready"
    with pytest.raises(WaitTimeout, match="the moon.*last value: 0"):
        wait_until(lambda: 0, timeout=0.1, message="the moon")
    with pytest.raises(ZeroDivisionError):
        wait_until(lambda: 1 / 0, timeout=1)
    assert wait_until(lambda: os.stat("/"), timeout=1, ignore=(OSError,))


def test_each_node_has_its_own_hostname_address_and_hosts_file(cluster):
    c = cluster("alpha", "debian-420")
    alpha, other = c["alpha"], c["debian-420"]
    assert alpha.run("uname -n").stdout == "alpha\n"
    assert other.run(["hostname"]).stdout == "debian-420\n"
    assert os.uname().nodename not in ("alpha", "debian-420")
    addr = alpha.run("ip -o -4 addr show dev eth0").stdout
    assert "192.0.2.11/24" in addr and "brd 192.0.2.255" in addr
    assert "192.0.2.12/24" in other.run("ip -o -4 addr show dev eth0").stdout
    assert alpha.run("getent hosts debian-420").stdout.split()[0] == "192.0.2.12"


def test_nodes_and_a_client_reach_each_other_on_one_wire(cluster):
    c = cluster("alpha", "beta")
    client = c.add_node("client")
    assert client.ip == "192.0.2.13"
    for a in c:
        for b in c:
            if a is not b:
                assert a.can_reach(b), f"{a.name} cannot reach {b.name}"
    # The venv's tools, and the checkout, are there inside a node.
    assert c["alpha"].run("command -v cl_status").stdout.startswith(sys.prefix)
    assert c["alpha"].run(["test", "-f", f"{os.getcwd()}/tests/conftest.py"], check=False).returncode == 0


def test_dev_is_private_but_devices_work(cluster):
    c = cluster("alpha", "beta")
    alpha, beta = c["alpha"], c["beta"]
    alpha.run("ln -s /dev/null /dev/drbd1 && echo data > /dev/drbd1")
    assert alpha.run("readlink /dev/drbd1").stdout == "/dev/null\n"
    assert beta.run("test -e /dev/drbd1", check=False).returncode == 1
    assert not os.path.lexists("/dev/drbd1") or os.readlink("/dev/drbd1") != "/dev/null"
    assert beta.run("ls /dev/fuse /dev/loop-control /dev/null /dev/pts/ptmx").returncode == 0
    alpha.run("echo shm > /dev/shm/probe")
    assert not beta.exists("/dev/shm/probe") and not os.path.exists("/dev/shm/probe")


def test_run_and_state_folders_are_private(cluster):
    c = cluster("alpha", "beta")
    alpha, beta = c["alpha"], c["beta"]
    alpha.run("mkdir -p /run/heartbeat && echo 42 > /run/heartbeat.pid")
    assert beta.run("cat /run/heartbeat.pid", check=False).returncode == 1
    assert not os.path.exists("/run/heartbeat.pid")
    # Packaged folders are there, as after boot, with their owners.
    assert alpha.run("stat -c %U /var/lib/heartbeat/ccm /run/lock").stdout.split()[1] == "root"
    alpha.run("echo uuid > /var/lib/heartbeat/hb_uuid; echo 'resource r0 {}' > /etc/drbd.conf;"
              " echo md > /var/lib/drbd/drbd1.md")
    assert beta.read_file("/var/lib/heartbeat/hb_uuid", missing_ok=True) == ""
    assert beta.read_file("/etc/drbd.conf") == ""
    assert not beta.exists("/var/lib/drbd/drbd1.md") and not os.path.exists("/var/lib/drbd/drbd1.md")
    assert not os.path.exists("/var/lib/heartbeat/hb_uuid")
    assert (alpha.root / "var/lib/heartbeat/hb_uuid").read_text() == "uuid\n"


def test_etc_ha_d_is_private_and_writable_from_the_host(cluster):
    c = cluster("alpha", "beta")
    alpha, beta = c["alpha"], c["beta"]
    alpha.write_file("/etc/ha.d/authkeys", "auth 1\n1 crc\n", mode=0o600)
    assert alpha.run("stat -c %a /etc/heartbeat/authkeys").stdout == "600\n"
    assert alpha.run("cat /etc/ha.d/authkeys").stdout == "auth 1\n1 crc\n"
    assert beta.run("test -e /etc/ha.d/authkeys", check=False).returncode == 1
    assert not os.path.exists("/etc/ha.d/authkeys")
    # The package's own files are there (harc, resource.d), as on an installed machine.
    if os.path.exists("/etc/ha.d/harc"):
        assert beta.exists("/etc/ha.d/harc")
    alpha.run("echo 'alpha logs' > /var/log/ha-log")
    assert alpha.read_file("/var/log/ha-log") == "alpha logs\n"
    assert beta.read_file("/var/log/ha-log", missing_ok=True) == ""
    # Writing where the node sees the host's own files is refused.
    with pytest.raises(ValueError):
        alpha.write_file("/etc/passwd", "x")
    alpha.write_file("/run/resource-agents/probe", "x")
    assert alpha.run("cat /run/resource-agents/probe").stdout == "x"


def test_bind_replaces_a_host_folder_in_one_node_only(cluster, tmp_path):
    c = cluster("alpha", "beta")
    (tmp_path / "heartbeat").write_text("#!/bin/sh\necho private\n")
    (tmp_path / "heartbeat").chmod(0o755)
    c["alpha"].bind(tmp_path, "/etc/init.d")
    assert c["alpha"].run("/etc/init.d/heartbeat").stdout == "private\n"
    assert c["beta"].run("test -e /etc/init.d/heartbeat && "
                         "grep -q private /etc/init.d/heartbeat", check=False).returncode != 0


def test_loop_device_mkfs_and_mount_inside_a_node(cluster):
    c = cluster("alpha", "beta")
    alpha, beta = c["alpha"], c["beta"]
    loop = alpha.loop_device("16M")
    assert loop.startswith("/dev/loop")
    alpha.run(f"mkfs.ext4 -q {loop} && mkdir -p /run/data && mount {loop} /run/data "
              "&& echo hello > /run/data/file")
    assert alpha.run("cat /run/data/file").stdout == "hello\n"
    assert loop not in host_mounts()
    assert loop not in beta.run("cat /proc/self/mountinfo").stdout
    # losetup run by the software under test inside a node works the same.
    inner = alpha.run("truncate -s 8M /run/img && losetup -f --show /run/img").stdout.strip()
    assert inner.startswith("/dev/loop") and inner != loop


def test_fuse_works_inside_a_node(cluster):
    c = cluster("alpha")
    alpha = c["alpha"]
    alpha.run("mkdir -p /run/nbd")
    fuse = alpha.spawn(["nbdfuse", "/run/nbd/disk", "--command", "nbdkit", "-s", "memory", "4M"])
    wait_until(lambda: alpha.exists("/run/nbd/disk"), 10, ignore=(OSError,),
               message="nbdfuse to mount /run/nbd/disk")
    alpha.run("printf payload | dd of=/run/nbd/disk conv=notrunc status=none")
    assert alpha.run("head -c 7 /run/nbd/disk").stdout == "payload"
    assert "/run/nbd" not in host_mounts()
    assert fuse.alive()


def test_partition_cuts_both_ways_including_broadcast_and_heal_restores(cluster):
    c = cluster("alpha", "beta", "gamma")
    alpha, beta, gamma = c["alpha"], c["beta"], c["gamma"]
    listeners = {n.name: n.spawn(["python3", "-c", LISTEN]) for n in (beta, gamma)}
    for s in listeners.values():
        wait_until(lambda s=s: "listening" in s.output(), 10)

    c.partition(alpha, beta)
    assert not alpha.can_reach(beta, 0.3) and not beta.can_reach(alpha, 0.3)
    assert alpha.can_reach(gamma) and beta.can_reach(gamma)
    alpha.run(["python3", "-c", BROADCAST, "cut"])
    wait_until(lambda: "192.0.2.11 cut" in listeners["gamma"].output(), 5)
    assert "cut" not in listeners["beta"].output()

    c.heal()
    assert alpha.can_reach(beta) and beta.can_reach(alpha)
    alpha.run(["python3", "-c", BROADCAST, "healed"])
    wait_until(lambda: "192.0.2.11 healed" in listeners["beta"].output(), 5)


def test_isolate_cuts_a_node_from_everyone_and_heal_of_one_pair(cluster):
    c = cluster("alpha", "beta", "gamma")
    alpha, beta, gamma = c["alpha"], c["beta"], c["gamma"]
    alpha.isolate()
    assert not any(alpha.can_reach(n, 0.3) or n.can_reach(alpha, 0.3) for n in (beta, gamma))
    assert beta.can_reach(gamma)
    c.heal(alpha, gamma)
    assert alpha.can_reach(gamma) and not alpha.can_reach(beta, 0.3)


def test_kill_selects_by_node_not_by_name(cluster):
    c = cluster("alpha", "beta")
    alpha, beta = c["alpha"], c["beta"]
    a_sleep, b_sleep = alpha.spawn(["sleep", "300"]), beta.spawn(["sleep", "300"])
    wait_until(lambda: alpha.pids("sleep") and beta.pids("sleep"), 5)
    assert alpha.kill(signal.SIGTERM, name="sleep") == [a_sleep.pid]
    assert a_sleep.wait(5) == -signal.SIGTERM
    assert b_sleep.alive() and beta.pids("sleep") == [b_sleep.pid]


def test_run_reports_failures_with_output(cluster):
    c = cluster("alpha")
    with pytest.raises(CommandFailed) as failed:
        c["alpha"].run("echo out; echo err >&2; exit 3")
    assert failed.value.returncode == 3 and "err" in failed.value.stderr
    assert "alpha" in str(failed.value)
    with pytest.raises(ClusterError, match="exited 0, but a process it started still holds"):
        c["alpha"].run("sleep 30 & echo started", timeout=1)
    with pytest.raises(ClusterError, match="still running after 1s"):
        c["alpha"].run(["sleep", "30"], timeout=1)
    proc = c["alpha"].run(["sh", "-c", "exit 7"], check=False)
    assert proc.returncode == 7
    assert c["alpha"].run("cat", input="in").stdout == "in"
    assert c["alpha"].run("pwd", cwd="/etc/ha.d").stdout == "/etc/ha.d\n"
    assert c["alpha"].run("echo $X", env={"X": "y"}).stdout == "y\n"


def test_teardown_leaves_no_process_namespace_mount_or_loop(cluster):
    c = cluster("alpha", "beta")
    alpha, beta = c["alpha"], c["beta"]
    loop = alpha.loop_device("16M")
    alpha.run(f"mkfs.ext4 -q {loop} && mkdir -p /run/data && mount {loop} /run/data")
    # A daemon that left its parent, a process ignoring SIGTERM, FUSE with a
    # loop device on top, as the DRBD engine makes them on a Primary.
    beta.run("setsid sh -c 'sleep 300 & sleep 300' >/dev/null 2>&1 < /dev/null &")
    beta.spawn(["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"])
    beta.run("mkdir -p /run/nbd")
    beta.spawn(["nbdfuse", "/run/nbd/disk", "--command", "nbdkit", "-s", "memory", "4M"])
    wait_until(lambda: beta.exists("/run/nbd/disk"), 10, ignore=(OSError,))
    fuse_loop = beta.run("losetup -f --show /run/nbd/disk").stdout.strip()
    wait_until(lambda: len(beta.pids("sleep")) >= 2, 5)
    ours = attachments(loop, fuse_loop)
    assert None not in ours
    pids = alpha.pids() + beta.pids() + [alpha.holder.pid, beta.holder.pid]
    namespaces = [alpha.netns, beta.netns, c.bridge_ns]

    started = time.monotonic()
    c.teardown()
    assert time.monotonic() - started < 10

    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not [ns for ns in namespaces if ns in listed]
    assert not [p for p in pids if os.path.exists(f"/proc/{p}") and
                open(f"/proc/{p}/stat").read().split(") ")[1][0] != "Z"]
    assert not set(ours) & set(attachments(loop, fuse_loop))
    assert str(c.root) not in host_mounts() and not c.root.exists()
    c.teardown()  # twice is harmless


def test_sweep_removes_what_a_run_left(tmp_path):
    """What a pytest killed with SIGKILL leaves, the next run sweeps.  The
    owner is stopped, not killed, so that no other run's session start
    sweeps it first."""
    if os.geteuid() != 0:
        pytest.skip("the test cluster needs root")
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {os.getcwd()!r})
        from tests.cluster import Run
        run = Run(base_dir={str(tmp_path)!r})
        c = run.cluster("alpha")
        a = c["alpha"]
        a.run("setsid sleep 300 >/dev/null 2>&1 < /dev/null &")
        print(a.loop_device("8M"), flush=True)
        # a mounted loop over nbdfuse's file, as the DRBD engine's Primary has it
        a.run("mkdir -p /run/nbd")
        a.spawn(["nbdfuse", "/run/nbd/disk", "--command", "nbdkit", "-s", "memory", "8M"])
        a.run("for i in $(seq 100); do test -e /run/nbd/disk && break; sleep 0.1; done")
        fuse_loop = a.run("losetup -f --show /run/nbd/disk").stdout.strip()
        a.run(f"mkfs.ext4 -q {{fuse_loop}} && mkdir -p /run/m && mount {{fuse_loop}} /run/m")
        print(fuse_loop, flush=True)
        os.kill(os.getpid(), signal.SIGSTOP)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        loop = child.stdout.readline().strip()
        fuse_loop = child.stdout.readline().strip()
        base = next(tmp_path.glob(f"hbt{child.pid}-*"))
        namespaces = namespaces_of(child.pid)
        ours = attachment(loop)
        # once the node is gone this one's backing file reads "/nbd": only the
        # node's mount table tells it is the run's
        fuse_ours = attachment(fuse_loop)
        assert len(namespaces) == 2 and None not in (ours, fuse_ours)
        left = [p for ns in namespaces for p in pids_in_netns(netns_inode(f"/run/netns/{ns}"))]
        assert len(left) >= 2  # the holder and the sleeper

        assert sweep(child.pid, base) == []
        assert namespaces_of(child.pid) == []
        assert attachment(loop) != ours and not base.exists()
        assert attachment(fuse_loop) != fuse_ours
        assert not [p for p in left if is_alive(p)]
    finally:
        child.kill()
        child.wait(10)


def test_dead_runs_are_found_by_their_folders(tmp_path, monkeypatch):
    gone = subprocess.Popen(["true"])
    gone.wait()
    (tmp_path / f"hbt{gone.pid}-abc").mkdir()
    (tmp_path / f"hbt{os.getpid()}-abc").mkdir()
    (tmp_path / f"hbt{gone.pid + 100000000}-kept").mkdir()
    (tmp_path / f"hbt{gone.pid + 100000000}-kept" / "KEPT").touch()
    monkeypatch.setenv("HBT_TMPDIR", str(tmp_path))
    found = dead_runs()
    assert gone.pid in found and os.getpid() not in found and gone.pid + 100000000 not in found


def test_syslog_of_a_node_is_caught_with_facility_and_severity(cluster):
    c = cluster("alpha", "beta")
    c["alpha"].start_syslog()
    c["alpha"].run("logger -p local0.warning -t heartbeat 'Link beta:eth0 dead.'")
    line = wait_until(lambda: c["alpha"].read_file("/var/log/syslog", missing_ok=True), 5)
    assert line.startswith("local0.warning ") and "heartbeat" in line and "Link beta:eth0 dead." in line
    c["beta"].run("logger -p local0.warning -t heartbeat 'beta only'", check=False)
    assert "beta only" not in c["alpha"].read_file("/var/log/syslog")


def test_a_node_can_prefer_the_system_tools(cluster):
    c = cluster("alpha")
    reference = c.add_node("refpeer", venv_on_path=False)
    assert c["alpha"].run("command -v python3").stdout.startswith(sys.prefix)
    assert not reference.run("command -v python3").stdout.startswith(sys.prefix)


def test_reboot_keeps_the_disks_and_forgets_the_rest(cluster):
    c = cluster("alpha", "beta")
    alpha = c["alpha"]
    disk = alpha.loop_device("16M")
    alpha.run(f"printf persistent | dd of={disk} conv=notrunc status=none")
    alpha.write_file("/etc/ha.d/ha.cf", "keepalive 1\n")
    alpha.run("echo 1 > /run/heartbeat.pid; ln -s /dev/null /dev/drbd0; "
              "ip addr add 192.0.2.100/24 dev eth0 label eth0:0; "
              "truncate -s 4M /run/soft.img; losetup -f --show /run/soft.img > /var/log/soft")
    soft = alpha.read_file("/var/log/soft").strip()
    disk_before, soft_before = attachments(disk, soft)
    assert None not in (disk_before, soft_before)
    daemon = alpha.spawn("sleep 300")
    c.partition(alpha, "beta")

    alpha.reboot()

    assert daemon.wait(5) == -signal.SIGKILL and alpha.pids() == []
    assert alpha.run("uname -n").stdout == "alpha\n"
    assert not alpha.exists("/run/heartbeat.pid") and not alpha.exists("/dev/drbd0")
    assert alpha.run("ip -o -4 addr show dev eth0").stdout.count("inet ") == 1
    assert alpha.read_file("/etc/ha.d/ha.cf") == "keepalive 1\n"
    assert alpha.run(f"head -c 10 {disk}").stdout == "persistent"
    assert attachment(disk) == disk_before and attachment(soft) != soft_before
    assert not alpha.can_reach(c["beta"], 0.3)
    c.heal()
    assert alpha.can_reach(c["beta"])


# Two tests of a pytest run of their own: one fails, one is stopped by SIGTERM (a CI
# timeout; Ctrl-C takes the same path) while its cluster runs.
FAILED_AND_STOPPED = textwrap.dedent("""
    import time
    from pathlib import Path
    OUT = Path(__file__).parent

    def test_fails(cluster):
        node = cluster("alpha", "beta")["alpha"]
        sleeper = node.spawn(["sleep", "300"])
        (OUT / "failed").write_text(f"{node.netns} {sleeper.pid}")
        assert False, "a test that fails"

    def test_stopped(cluster):
        node = cluster("alpha")["alpha"]
        sleeper = node.spawn(["sleep", "300"])
        (OUT / "stopped").write_text(f"{node.netns} {sleeper.pid}")
        time.sleep(60)
""")


def test_a_failed_test_and_a_stopped_run_leave_nothing(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the test cluster needs root")
    (tmp_path / "test_inner.py").write_text(FAILED_AND_STOPPED)
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "tests.conftest", "-q",
         str(tmp_path / "test_inner.py")], cwd=os.getcwd(), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env={**os.environ, "HBT_TMPDIR": str(tmp_path)})
    try:
        wait_until(lambda: (tmp_path / "stopped").exists(), 60, message="the inner run's second test")
        child.send_signal(signal.SIGTERM)
        output, _ = child.communicate(timeout=60)
    finally:
        child.kill()
        child.wait(10)
    assert child.returncode == 2 and "1 failed" in output, output      # 2: interrupted
    made = [(tmp_path / name).read_text().split() for name in ("failed", "stopped")]
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert namespaces_of(child.pid) == [] and not [ns for ns, _ in made if ns in listed]
    assert not [pid for _, pid in made if is_alive(int(pid))]
    assert not list(tmp_path.glob(f"hbt{child.pid}-*"))

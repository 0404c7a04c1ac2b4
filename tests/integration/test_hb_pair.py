"""Two nodes running our heartbeat, started as an admin would (`heartbeat`), in test
nodes: membership, death by silence, graceful stop, hostile traffic, partitions.
Short timers: keepalive 250 ms, deadtime 1500 ms, initdead 4 s.

The helpers here are shared by the other test_hb_* files."""
from __future__ import annotations

import json
import re
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.cluster import wait_until

KEEPALIVE, DEADTIME, INITDEAD = 0.25, 1.5, 4.0
REAL = "/usr/libexec/heartbeat/heartbeat"
ROOT = str(Path(__file__).resolve().parents[2])
HA_CF = f"""\
logfile /var/log/ha-log
debugfile /var/log/ha-debug
logfacility local0
keepalive {int(KEEPALIVE * 1000)}ms
deadtime {int(DEADTIME * 1000)}ms
warntime 1000ms
initdead {int(INITDEAD * 1000)}ms
{{media}}
node alpha beta
crm no
auto_failback on
{{extra}}"""


def configure(node, peer=None, auth="1 sha1 secret", extra="", media=None):
    """ha.cf, authkeys and an empty haresources; ucast to `peer` unless media given."""
    media = media or f"ucast eth0 {peer.ip}"
    node.write_file("/etc/ha.d/ha.cf", HA_CF.format(media=media, extra=extra))
    node.write_file("/etc/ha.d/authkeys", f"auth {auth.split()[0]}\n{auth}\n", mode=0o600)
    node.write_file("/etc/ha.d/haresources", "")


# the resource layer's 10 s wait at a joint start (3.0.6's RQSTDELAY) would only slow -k
QUICK = {"HBPY_RQSTDELAY": "1"}


def start(node):
    """`heartbeat` as an admin types it: ours, or the real one on a reference node."""
    node.run(["heartbeat"] if node.venv_on_path else [REAL], timeout=30, env=QUICK)


def log(node):
    return node.read_file("/var/log/ha-log", missing_ok=True)


def nodestatus(node, other):
    r = node.run(["cl_status", "nodestatus", other.name], check=False)
    return r.stdout.strip(), r.returncode


def both_active(a, b):
    return nodestatus(a, b)[0] == "active" and nodestatus(b, a)[0] == "active"


def control(node, cmd, **args):
    """Ask our daemon in `node` over its control socket (what cl_status does)."""
    code = ("import json, sys; from heartbeat_py.daemon.control import request; "
            f"print(json.dumps(request('/var/run/heartbeat/hbpy-control.sock', {cmd!r}, "
            f"**json.loads(sys.argv[1]))))")
    return json.loads(node.run([sys.executable, "-c", code, json.dumps(args)]).stdout)


def past_start_lapse(ours, peer):
    """Both sides now apply the configured deadtime to each other (the first 5 s after
    a start, heartbeat advertises 2 s more)."""
    mine = control(ours, "stats")["dt_ms"] == DEADTIME * 1000
    theirs = {n["name"]: n["deadtime_ms"] for n in control(ours, "listnodes")["nodes"]}
    return mine and theirs[peer.name] == DEADTIME * 1000


def time_to_death(watcher, victim, timeout=10):
    """kill -9 every process of `victim`; seconds until `watcher` logs it dead."""
    line = f"node {victim.name}: is dead"
    before = log(watcher).count(line)
    t0 = time.monotonic()
    victim.kill()
    wait_until(lambda: log(watcher).count(line) > before, timeout, interval=0.01,
               message=f"{watcher.name} logs {victim.name} dead")
    return time.monotonic() - t0


def assert_deadtime(elapsed):
    """Declared dead after deadtime, give or take one keepalive (plus polling)."""
    assert DEADTIME - KEEPALIVE - 0.05 <= elapsed <= DEADTIME + KEEPALIVE + 0.2, elapsed


@pytest.fixture
def pair(cluster):
    c = cluster("alpha", "beta")
    a, b = c["alpha"], c["beta"]
    configure(a, b)
    configure(b, a)
    return c, a, b


def test_two_nodes_see_each_other_active_and_a_killed_one_dies_after_deadtime(pair):
    c, a, b = pair
    a.start_syslog()
    t0 = time.monotonic()
    start(a)
    start(b)
    wait_until(lambda: both_active(a, b), 2 * KEEPALIVE + INITDEAD, message="both active")
    assert time.monotonic() - t0 <= 2 * KEEPALIVE + INITDEAD
    assert a.run(["heartbeat", "-s"]).stdout.startswith("heartbeat OK [pid ")
    assert a.run(["cl_status", "hblinkstatus", "beta", "eth0"]).stdout == "up\n"
    wait_until(lambda: past_start_lapse(a, b), 8, interval=0.2)
    assert_deadtime(time_to_death(a, b))
    assert nodestatus(a, b) == ("dead", 1)
    assert a.run(["cl_status", "hblinkstatus", "beta", "eth0"], check=False).returncode == 1
    text = log(a)
    assert "info: Link beta:eth0 dead." in text
    assert "info: Status update for node beta: status active" in text
    syslog = a.read_file("/var/log/syslog")
    assert re.search(r"^local0\.info \w{3} \d\d [\d:]{8} heartbeat: \[\d+\]: info: "
                     r"Link beta:eth0 up\.$", syslog, re.M)
    assert re.search(r"^local0\.warning .* heartbeat: \[\d+\]: WARN: node beta: is dead$",
                     syslog, re.M)


def test_graceful_stop_is_announced_and_heartbeat_s_follows(pair):
    c, a, b = pair
    start(a)
    start(b)
    wait_until(lambda: both_active(a, b), 2 * KEEPALIVE + INITDEAD)
    r = b.run(["heartbeat", "-k"], timeout=60)
    assert r.returncode == 0
    assert b.run(["heartbeat", "-s"], check=False).returncode == 3
    assert b.run(["cl_status", "hbstatus"], check=False).returncode == 1
    assert not b.pids("heartbeat")
    assert "info: Heartbeat shutdown in progress." in log(b)
    assert "beta Heartbeat shutdown complete." in log(b)
    wait_until(lambda: "Received shutdown notice from 'beta'." in log(a), 5)
    assert b.run(["heartbeat", "-k"]).stderr == "INFO: Heartbeat already stopped.\n"
    # the restart comes back with the next generation
    gen = int(b.read_file("/var/lib/heartbeat/hb_generation"))
    start(b)
    wait_until(lambda: "Heartbeat restart on node beta" in log(a), 5)
    assert int(b.read_file("/var/lib/heartbeat/hb_generation")) == gen + 1
    wait_until(lambda: both_active(a, b), 2 * KEEPALIVE + INITDEAD)


def test_reload_applies_a_change_refuses_a_bad_file_and_sigterm_stops_gracefully(pair):
    c, a, b = pair
    start(a)
    start(b)
    wait_until(lambda: both_active(a, b), 2 * KEEPALIVE + INITDEAD)
    pid = int(b.read_file("/run/heartbeat.pid"))
    good = b.read_file("/etc/ha.d/ha.cf")
    b.write_file("/etc/ha.d/ha.cf", good.replace("keepalive 250ms", "keepalive 200ms"))
    r = b.run(["heartbeat", "-r"])
    assert f"info: Signalling heartbeat pid {pid} to reread config files" in r.stderr
    wait_until(lambda: "Configuration reread: keepalive 200 ms" in log(b), 5)
    assert b.run(["cl_status", "hbparameter", "-p", "keepalive"]).stdout == "200ms\n"

    b.write_file("/etc/ha.d/ha.cf", good.replace("deadtime 1500ms", "deadtime 300ms"))
    r = b.run(["heartbeat", "-r"], check=False)
    assert r.returncode == 1
    assert "heartbeat: /etc/ha.d/ha.cf:" in r.stderr and "deadtime" in r.stderr
    assert f"Config errors: Heartbeat pid {pid} NOT restarted" in r.stderr
    assert b.run(["cl_status", "hbparameter", "-p", "deadtime"]).stdout == "1500ms\n"
    assert nodestatus(a, b) == ("active", 0)

    # SIGTERM is heartbeat -k: the peer is told, the daemon leaves and takes its pidfile
    b.run(["kill", "-TERM", str(pid)])
    wait_until(lambda: not b.pids("heartbeat"), 10, message="beta's heartbeat gone")
    assert "beta Heartbeat shutdown complete." in log(b)
    assert "Received shutdown notice from 'beta'." in log(a)
    assert not b.exists("/run/heartbeat.pid")
    assert b.run(["heartbeat", "-s"], check=False).returncode == 3


FLOOD = textwrap.dedent("""
    import os, random, socket, sys, time
    sys.path.insert(0, sys.argv[1])
    from heartbeat_py.wire import Keyring, encode_packet, kinds
    target, duration, rate = sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(7)
    listen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listen.bind(("", 694))
    listen.settimeout(0.2)
    captured, end = [], time.monotonic() + 2
    while time.monotonic() < end:
        try:
            captured.append(listen.recv(65536))
        except socket.timeout:
            pass
    assert captured, "heard nothing on the segment"
    def forged(src, key, seq, hg):
        msg = kinds.Status("dead", 100, 1).to_message()
        for name, value in (("src", src), ("seq", "%x" % seq), ("hg", "%x" % hg),
                            ("ts", "6b06821b"), ("ttl", "3")):
            msg.add(name, value)
        return encode_packet(msg, Keyring.single(1, "sha1", key))
    fakes = [forged("beta", b"guess", 10 ** 6, 2 ** 40), forged("mallory", b"secret", 1, 1),
             forged("beta", b"secret", 10 ** 6, 1)]       # the right key, an old generation
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    out.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sent, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < duration:
        kind = rng.randrange(6)
        pkt = rng.choice(captured)
        if kind == 0:
            data = os.urandom(rng.randrange(1, 1400))
        elif kind == 1:
            data = pkt[:rng.randrange(len(pkt))]
        elif kind == 2:
            b = bytearray(pkt); b[rng.randrange(len(b))] ^= 1 << rng.randrange(8); data = bytes(b)
        elif kind == 3:
            data = pkt
        elif kind == 4:
            data = rng.choice(fakes)
        else:
            data = os.urandom(60000)
        out.sendto(data, (target, 694))
        sent += 1
        lag = sent / rate - (time.monotonic() - t0)
        if lag > 0:
            time.sleep(lag)
    print(sent, len(captured))
""")


def test_hostile_flood_changes_nothing_and_cl_status_still_answers(cluster):
    c = cluster("alpha", "beta", "mallory")
    a, b, m = c["alpha"], c["beta"], c["mallory"]
    for node in (a, b):
        configure(node, media="bcast eth0")
    start(a)
    start(b)
    wait_until(lambda: both_active(a, b), 2 * KEEPALIVE + INITDEAD)
    before = log(a)
    flood = m.spawn([sys.executable, "-c", FLOOD, ROOT, a.ip, "10", "2000"])
    t0 = time.monotonic()
    answers = []
    while flood.alive() and time.monotonic() - t0 < 20:
        started = time.monotonic()
        answers.append((nodestatus(a, b), time.monotonic() - started))
        time.sleep(0.3)
    flood.wait(10)
    assert flood.returncode == 0, flood.output()
    sent = int(flood.output().split()[0])
    assert sent > 10_000
    assert answers and all(status == ("active", 0) for status, _ in answers), answers
    assert max(took for _, took in answers) < 3
    assert nodestatus(b, a) == ("active", 0)
    stats = control(a, "stats")
    assert stats["refused"] > 1000
    during = log(a)[len(before):]
    assert "failed authentication" in during
    assert "attempted replay attack [beta]?" in during
    assert "bad node [mallory] in message" in during
    assert "is dead" not in during and "Status update" not in during
    assert len(during.splitlines()) < 300      # rate-limited


def test_partition_both_declare_the_other_dead_then_rejoin(pair):
    c, a, b = pair
    start(a)
    start(b)
    wait_until(lambda: both_active(a, b), 2 * KEEPALIVE + INITDEAD)
    wait_until(lambda: past_start_lapse(a, b) and past_start_lapse(b, a), 8, interval=0.2)
    t0 = time.monotonic()
    c.partition(a, b)
    wait_until(lambda: nodestatus(a, b) == ("dead", 1) and nodestatus(b, a) == ("dead", 1),
               DEADTIME + 2 * KEEPALIVE + 1, message="both dead")
    assert time.monotonic() - t0 >= DEADTIME - KEEPALIVE
    c.heal()
    wait_until(lambda: both_active(a, b), 2 * KEEPALIVE + 2)
    assert "CRIT: Cluster node beta returning after partition." in log(a)
    assert "CRIT: Cluster node alpha returning after partition." in log(b)

"""A mixed cluster: one node runs Debian's real heartbeat 3.0.6, the other ours, with
the same ha.cf and authkeys. Each sees the other active; each declares the other
dead within deadtime after a kill -9; restarted, they rejoin. Also with our side
sending the classic wire form, with a wrong key on one side, and over a lossy link
(each side's retransmit requests answered by the other)."""
from __future__ import annotations

import os
import re
import sys
import textwrap
import time

import pytest

from tests.cluster import wait_until
from tests.integration.test_hb_pair import (DEADTIME, INITDEAD, KEEPALIVE, QUICK, REAL, assert_deadtime,
                                            both_active, configure, log, nodestatus,
                                            past_start_lapse, start, time_to_death)

pytestmark = pytest.mark.skipif(not os.path.exists(REAL), reason="needs the real heartbeat 3.0.6")


@pytest.fixture
def mixed(cluster):
    """alpha: the real 3.0.6 (its own tools first on PATH); beta: ours."""
    c = cluster("alpha", "beta")
    real, ours = c["alpha"], c["beta"]
    real.venv_on_path = False
    return c, real, ours


# Run in a node: the first 4 payload bytes of a heartbeat packet from argv[1] on eth0.
SNIFF = textwrap.dedent("""
    import socket, sys, time
    src = socket.inet_aton(sys.argv[1])
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    s.bind(("eth0", 0))
    s.settimeout(0.2)
    end = time.monotonic() + 5
    while time.monotonic() < end:
        try:
            ip = s.recv(65535)[14:]
        except socket.timeout:
            continue
        ihl = (ip[0] & 15) * 4
        if ip[9] == 17 and ip[12:16] == src and ip[ihl + 2:ihl + 4] == (694).to_bytes(2, "big"):
            sys.stdout.write(ip[ihl + 8:ihl + 12].decode("latin-1"))
            break
""")


def first_bytes_on_the_wire(at, sender):
    return at.run([sys.executable, "-c", SNIFF, sender.ip]).stdout


@pytest.mark.parametrize("auth, extra, form", [
    ("2 md5 Hello!", "", "###\n"),
    ("3 sha1 s3cr3t", "", "###\n"),
    ("1 sha1 s3cr3t", "msgfmt classic\n", ">>>\n"),      # ours sends >>>/<<< packets
    ("1 crc", "msgfmt netstring\n", "###\n"),           # no inner auth field either side
], ids=["md5", "sha1", "classic", "crc-netstring"])
def test_real_and_ours_form_one_cluster_and_survive_kills(mixed, auth, extra, form):
    c, real, ours = mixed
    configure(real, ours, auth, extra)
    configure(ours, real, auth, extra)
    start(real)
    start(ours)
    wait_until(lambda: both_active(real, ours), 2 * KEEPALIVE + INITDEAD, message="both active")
    assert "failed authentication" not in log(real) + log(ours)
    assert first_bytes_on_the_wire(real, ours) == form
    assert first_bytes_on_the_wire(ours, real) == "###\n"     # 3.0.6 always sends netstring
    wait_until(lambda: past_start_lapse(ours, real), 8, interval=0.2)

    # the real one dies: ours notices within deadtime; a restart rejoins
    assert_deadtime(time_to_death(ours, real))
    assert nodestatus(ours, real) == ("dead", 1)
    real.reboot()           # what a crashed machine comes back as
    start(real)
    # The real daemon's own start-up (generation file, mlock attempt) took 3 s on a loaded
    # machine: the budget is for the cluster to form, so it counts from when it is up.
    wait_until(lambda: "Local status now set to: 'up'" in log(real).split(
        "Configuration validated")[-1], 15, message="real heartbeat up again")
    wait_until(lambda: both_active(real, ours), 2 * KEEPALIVE + INITDEAD, message="rejoined")
    assert "Heartbeat restart on node alpha" in log(ours)

    # ours dies: the real one notices within deadtime; a restart rejoins
    wait_until(lambda: past_start_lapse(ours, real), 8, interval=0.2)
    assert_deadtime(time_to_death(real, ours))
    assert nodestatus(real, ours) == ("dead", 1)
    start(ours)
    wait_until(lambda: both_active(real, ours), 2 * KEEPALIVE + INITDEAD, message="rejoined")
    assert "Heartbeat restart on node beta" in log(real)
    for text in (log(real), log(ours)):
        assert "replay attack" not in text and "failed authentication" not in text
        assert "Message hist queue is filling up" not in text
    assert "flow control disabled" not in log(real)


def test_a_wrong_key_means_no_membership_and_a_log_line(mixed):
    c, real, ours = mixed
    configure(real, ours, "1 sha1 one-key")
    configure(ours, real, "1 sha1 another-key")
    start(real)
    start(ours)
    t0 = time.monotonic()
    wait_until(lambda: "failed authentication" in log(ours), INITDEAD,
               message="ours logs the failed authentication")
    wait_until(lambda: "authentication failed" in log(real) or "failed authentication" in log(real),
               INITDEAD, message="the real one logs it too")
    # after initdead each goes on alone, the other dead
    wait_until(lambda: nodestatus(ours, real) == ("dead", 1) and nodestatus(real, ours) == ("dead", 1),
               INITDEAD + 3, message="no membership")
    assert time.monotonic() - t0 >= INITDEAD - 1
    assert "Status update for node alpha" not in log(ours)
    assert "Status update for node beta" not in log(real)
    assert "[alpha] failed authentication" in log(ours)


LOSS = """table inet hbloss {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport 694 numgen random mod 100 < 15 drop
  }
}
"""


def gaps_closed(text, peer):
    """Every gap logged for `peer` has been filled since (by retransmission)."""
    lost = text.rfind(f"lost packet(s) for [{peer}]")
    return lost >= 0 and text.rfind(f"No pkts missing from {peer}!") > lost


def test_lost_packets_are_retransmitted_both_ways(mixed):
    """15% of heartbeat packets dropped on both sides: ours asks the real one for
    what it missed (NS_rexmit) and the real one asks ours; every gap is filled."""
    c, real, ours = mixed
    configure(real, ours, "2 md5 Hello!")
    configure(ours, real, "2 md5 Hello!")
    start(real)
    start(ours)
    wait_until(lambda: both_active(real, ours), 2 * KEEPALIVE + INITDEAD, message="both active")
    for node in (real, ours):
        node.write_file("/tmp/hbloss.nft", LOSS)
        node.run(["nft", "-f", "/tmp/hbloss.nft"])
    try:
        wait_until(lambda: "lost packet(s) for [alpha]" in log(ours)
                   and "lost packet(s) for [beta]" in log(real), 30, message="losses on both sides")
    finally:
        for node in (real, ours):
            node.run(["nft", "delete", "table", "inet", "hbloss"])
    wait_until(lambda: gaps_closed(log(ours), "alpha") and gaps_closed(log(real), "beta"),
               5, message="every gap filled")
    for text in (log(real), log(ours)):
        assert "Irretrievably lost" not in text and "lost a lot of packets" not in text
        assert "is dead" not in text
    assert both_active(real, ours)


# cl_status questions asked on both sides ({me}: the asking node, {other}: the peer)
CL_STATUS = [
    "hbstatus", "hbstatus -x", "hbstatus -v -v", "hbstatus -m -v", "listnodes", "listnodes -n",
    "listnodes -p", "listnodes -x", "nodestatus {other}", "nodestatus {OTHER}",
    "nodestatus -m {other}", "nodestatus {other} -m", "nodestatus nosuch", "nodestatus",
    "nodestatus -x {other}", "nodetype {other}", "nodetype nosuch", "nodetype",
    "nodeweight {other}", "nodesite {other}",
    "listhblinks {other}", "listhblinks -v {other}", "listhblinks -m {me}", "listhblinks nosuch",
    "listhblinks -q {other}", "hblinkstatus {other} eth0", "hblinkstatus {me} eth0",
    "hblinkstatus {other} eth9", "hblinkstatus {other}", "hbparameter -p keepalive",
    "hbparameter -pdeadtime", "hbparameter -m -p warntime", "hbparameter -p udpport",
    "hbparameter -p nosuch", "hbparameter", "hbparameter -p", "hbparameter -x",
    "clientstatus {other} ipfail", "bogus",
]


def cl_status_answers(node, me, other):
    """(exit code, stdout, stderr) of every CL_STATUS question, with the node names, the
    version and the log lines' date/host/pid made the same for both heartbeats. Node
    lists come in ha.cf's order, the same on both sides: so once the names are ME and
    OTHER, their entries are compared as a set."""
    def same(text):
        text = re.sub(r"^\w{3} [ \d]\d [\d:]{8} \S+ cl_status: \[\d+\]: ", "", text, flags=re.M)
        text = re.sub(r"3\.0\.6 \(.*\)", "3.0.6", text)
        return text.replace(me, "ME").replace(other, "OTHER")

    def entries(text):
        text = text.rstrip("\n")
        return sorted(text.split("\n\n")) if "\n\n" in text else sorted(text.splitlines())
    answers = {}
    for question in CL_STATUS:
        argv = question.format(me=me, other=other, OTHER=other.upper()).split()
        r = node.run(["cl_status"] + argv, check=False)
        out = same(r.stdout)
        if argv[0] in ("listnodes", "hbstatus"):
            out = entries(out)
        answers[question] = (r.returncode, out, same(r.stderr))
    return answers


def test_node_names_are_lower_cased_on_the_wire_in_logs_and_tools_as_3_0_6(cluster):
    """Machines named NodeA/NodeB (the reference set-up) with `node NodeA NodeB`; then
    each side's cl_status answers every question as the other side's does."""
    c = cluster("NodeA", "NodeB")
    real, ours = c["NodeA"], c["NodeB"]
    real.venv_on_path = False
    for node, peer in ((real, ours), (ours, real)):
        configure(node, peer, "2 md5 Hello!")
        node.write_file("/etc/ha.d/ha.cf", node.read_file("/etc/ha.d/ha.cf").replace(
            "node alpha beta", "node NodeA NodeB"))
    start(real)
    start(ours)
    wait_until(lambda: nodestatus(real, ours)[0] == "active" and nodestatus(ours, real)[0]
               == "active", 2 * KEEPALIVE + INITDEAD, message="both active")
    for node in (real, ours):
        assert node.run(["cl_status", "listnodes"]).stdout == "nodeb\nnodea\n"
        assert node.run(["cl_status", "nodestatus", "NODEA"]).stdout == "active\n"
    assert "NodeB heartbeat: [" in log(ours)                # the host field is uname -n
    assert "info: Link nodea:eth0 up." in log(ours)
    assert "info: Status update for node nodea: status active" in log(ours)
    assert "info: Status update for node nodeb: status active" in log(real)
    theirs = cl_status_answers(real, "nodea", "nodeb")
    ours_ = cl_status_answers(ours, "nodeb", "nodea")
    differ = [(q, ours_[q], theirs[q]) for q in CL_STATUS if ours_[q] != theirs[q]]
    assert not differ, "\n".join(map(repr, differ))


def test_generation_and_uuid_carry_over_between_the_real_heartbeat_and_ours(cluster):
    """An admin moving a node to ours (or back) keeps its hb_generation, which must
    never go down, and its hb_uuid, which peers know it by."""
    node = cluster("alpha", "beta")["alpha"]
    configure(node, media="bcast eth0")
    seen = []
    for program in ("heartbeat", REAL, "heartbeat", REAL):
        before = log(node).count("info: Heartbeat generation: ")
        node.run([program], env=QUICK, timeout=30)
        wait_until(lambda: log(node).count("info: Heartbeat generation: ") > before, 10,
                   message=f"{program} started")
        started = [l for l in log(node).splitlines() if "info: heartbeat: version" in l][-1]
        assert ("heartbeat_py" in started) is (program == "heartbeat"), started
        generation = int(node.read_file("/var/lib/heartbeat/hb_generation"))
        assert f"info: Heartbeat generation: {generation}" in log(node)
        seen.append((generation, node.run(["od", "-An", "-tx1", "/var/lib/heartbeat/hb_uuid"]).stdout))
        node.kill()
        node.reboot()
    first = seen[0][0]
    assert [g for g, _ in seen] == [first, first + 1, first + 2, first + 3]
    assert len({u for _, u in seen}) == 1


@pytest.mark.parametrize("media", ["bcast eth0", "mcast eth0 239.0.2.1 694 1 0"],
                         ids=["bcast", "mcast"])
def test_broadcast_and_multicast_media_with_the_real_heartbeat(mixed, media):
    """Each side sees the other's link up, and its own as 3.0.6 sees its own: up when
    its broadcasts come back, dead with multicast loop 0."""
    c, real, ours = mixed
    for node in (real, ours):
        configure(node, media=media)
    start(real)
    start(ours)
    wait_until(lambda: both_active(real, ours), 2 * KEEPALIVE + INITDEAD, message="both active")

    def links(node, me, other):
        return [node.run(["cl_status", "hblinkstatus", name, "eth0"], check=False).stdout
                for name in (me, other)]
    assert links(ours, "beta", "alpha") == links(real, "alpha", "beta")
    assert links(ours, "beta", "alpha")[1] == "up\n"

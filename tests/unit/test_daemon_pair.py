"""Two (or three) of our daemons in one event loop, joined by an in-memory network:
membership, loss and retransmission, restart, graceful stop, partition, wire forms.
Real timers, short ones (keepalive 100 ms, deadtime 500 ms); the harness is in
daemon_bus.py."""
from __future__ import annotations

import asyncio
import time

import pytest

from heartbeat_py.wire import Keyring, decode_packet
from tests.unit.daemon_bus import Bus, Node, deadtime_applied, past_start_lapse, run, stop_all, until


def test_two_nodes_go_active_within_two_keepalives_plus_initdead(tmp_path):
    async def scenario():
        bus = Bus()
        a, b = Node(tmp_path, "alpha", bus).start(), Node(tmp_path, "beta", bus).start()
        t0 = time.monotonic()
        await until(lambda: a.status_of("beta") == "active" and b.status_of("alpha") == "active",
                    2 * 0.1 + 1.0 + 0.3, "both active")
        took = time.monotonic() - t0
        await stop_all(a, b)
        return a, b, took
    a, b, took = run(scenario())
    assert took < 1.0            # both up: no need to wait for initdead
    log = a.log()
    assert "info: Local status now set to: 'up'" in log
    assert "info: Link beta:eth0 up." in log and "info: Link alpha:eth0 up." in log
    assert "info: Status update for node beta: status active" in log
    assert "info: Comm_now_up(): updating status to active" in log
    assert "heartbeat: [" in log and log.split("\n")[0][3] == " "     # "Nov 25 ..." lines
    assert "WARN: No Previous generation" in log
    assert log.count("WARN") == 1 and "ERROR" not in log


def test_first_packets_are_init_up_up_with_the_start_lapse_in_dt(tmp_path):
    async def scenario():
        bus = Bus()
        a = Node(tmp_path, "alpha", bus).start()
        await until(lambda: len(bus.sent) >= 3, 1)
        await stop_all(a)
        return bus, a
    bus, a = run(scenario())
    keyring = Keyring.single(1, "sha1", b"secret")
    first = [decode_packet(data, keyring) for _, data in bus.sent[:3]]
    assert [(m["st"], m["dt"], m["seq"], m["protocol"]) for m in first] == [
        ("init", "9c4", "1", "1"), ("up", "9c4", "2", "1"), ("up", "9c4", "3", "1")]   # 500 + 2000 ms
    assert first[0]["src"] == "alpha" and len(first[0]["srcuuid"]) == 16
    assert int(first[0]["hg"], 16) == int((a.paths.varlib / "hb_generation").read_text())


def test_a_killed_peer_is_declared_dead_after_deadtime(tmp_path):
    async def scenario():
        bus = Bus()
        a, b = Node(tmp_path, "alpha", bus).start(), Node(tmp_path, "beta", bus).start()
        await until(lambda: a.status_of("beta") == "active", 3)
        # beta is still in its 5 s start lapse: its statuses ask for deadtime + 2 s
        await until(lambda: deadtime_applied(a, "beta") == 2.5, 1, "beta's lapse dt applied")
        await b.crash()
        t0 = time.monotonic()
        await until(lambda: a.status_of("beta") == "dead", 4, "beta dead")
        took = time.monotonic() - t0
        await stop_all(a)
        return a, took
    a, took = run(scenario())
    # beta still advertised deadtime + 2 s (its start lapse): 2.5 s, one keepalive either way
    assert 2.5 - 0.15 <= took <= 2.5 + 0.25, took
    log = a.log()
    assert "WARN: node beta: is dead" in log
    assert log.index("node beta: is dead") < log.index("Link beta:eth0 dead.")


def test_after_the_lapse_the_configured_deadtime_applies(tmp_path, monkeypatch):
    monkeypatch.setattr("heartbeat_py.daemon.core.START_LAPSE", 0.3)

    async def scenario():
        bus = Bus()
        a, b = Node(tmp_path, "alpha", bus).start(), Node(tmp_path, "beta", bus).start()
        await until(lambda: a.status_of("beta") == "active", 3)
        await past_start_lapse((a, "beta"))
        await b.crash()
        t0 = time.monotonic()
        await until(lambda: a.status_of("beta") == "dead", 3, "beta dead")
        took = time.monotonic() - t0
        await stop_all(a)
        return took
    took = run(scenario())
    assert 0.5 - 0.12 <= took <= 0.5 + 0.2, took


def test_a_peer_never_heard_is_dead_after_initdead_and_we_go_active_alone(tmp_path):
    async def scenario():
        bus = Bus()
        a = Node(tmp_path, "alpha", bus).start()
        t0 = time.monotonic()
        await until(lambda: a.status_of("alpha") == "active", 3)
        took = time.monotonic() - t0
        await stop_all(a)
        return a, took
    a, took = run(scenario())
    assert 1.0 <= took <= 1.35
    assert a.status_of("beta") == "dead"


def test_a_lost_packet_is_requested_and_retransmitted(tmp_path):
    async def scenario():
        bus = Bus()
        a, b = Node(tmp_path, "alpha", bus).start(), Node(tmp_path, "beta", bus).start()
        await until(lambda: b.status_of("alpha") == "active", 3)
        lost = []
        keyring = Keyring.single(1, "sha1", b"secret")

        def drop(data, sender, receiver):
            if sender == "alpha" and receiver == "beta" and not lost:
                lost.append(decode_packet(data, keyring)["seq"])
                return True
            return False
        bus.drop = drop
        await until(lambda: "No pkts missing from alpha!" in b.log(), 2, "recovery")
        await stop_all(a, b)
        return a, b, lost
    a, b, lost = run(scenario())
    n = int(lost[0], 16)
    assert f"1 lost packet(s) for [alpha] [{n - 1}:{n + 1}]" in b.log()
    assert "ERROR" not in b.log() and "ERROR" not in a.log()


def test_restart_raises_the_generation_and_the_peer_notices(tmp_path):
    async def scenario():
        bus = Bus()
        a, b = Node(tmp_path, "alpha", bus).start(), Node(tmp_path, "beta", bus).start()
        await until(lambda: a.status_of("beta") == "active", 3)
        gen1 = b.daemon.generation
        await b.crash()
        b.start()
        await until(lambda: "Heartbeat restart on node beta" in a.log(), 2)
        await until(lambda: a.status_of("beta") == "active" and b.status_of("alpha") == "active", 3)
        gen2 = b.daemon.generation
        await stop_all(a, b)
        return gen1, gen2, a
    gen1, gen2, a = run(scenario())
    assert gen2 == gen1 + 1
    assert "Status update for node beta: status init" in a.log()


def test_graceful_stop_tells_the_peer_and_exits(tmp_path):
    seen = []

    class Recorder:
        def __init__(self, api, config):
            self.api = api

        def __getattr__(self, name):
            def record(*args):
                seen.append((self.api.local_node, name, args))
            return record

        async def shutdown(self):
            seen.append((self.api.local_node, "shutdown", ()))
            return True

        def message(self, msg):
            seen.append((self.api.local_node, "message", msg.type))

        def rscstatus(self):
            return "none"

    async def scenario():
        bus = Bus()
        a = Node(tmp_path, "alpha", bus, resource_manager=Recorder).start()
        b = Node(tmp_path, "beta", bus, resource_manager=Recorder).start()
        await until(lambda: a.status_of("beta") == "active" and b.status_of("alpha") == "active", 3)
        t0 = time.monotonic()
        b.daemon.request_stop()
        code = await asyncio.wait_for(b.task, 5)
        took = time.monotonic() - t0
        await stop_all(a)
        return a, b, code, took
    a, b, code, took = run(scenario())
    assert code == 0 and took < 1.5
    assert ("alpha", "message", "shutdone") in seen
    assert ("beta", "shutdown", ()) in seen
    assert "info: Heartbeat shutdown in progress." in b.log()
    assert "info: beta Heartbeat shutdown complete." in b.log()
    assert ("alpha", "comm_up", ()) in seen
    assert any(s[1] == "node_status" and s[2] == ("beta", "up", "active") for s in seen
               if s[0] == "alpha")


def test_partition_both_declare_dead_then_rejoin(tmp_path, monkeypatch):
    monkeypatch.setattr("heartbeat_py.daemon.core.START_LAPSE", 0.2)

    async def scenario():
        bus = Bus()
        a, b = Node(tmp_path, "alpha", bus).start(), Node(tmp_path, "beta", bus).start()
        await until(lambda: a.status_of("beta") == "active" and b.status_of("alpha") == "active", 3)
        await past_start_lapse((a, "beta"), (b, "alpha"))
        bus.cut = {("alpha", "beta"), ("beta", "alpha")}
        await until(lambda: a.status_of("beta") == "dead" and b.status_of("alpha") == "dead", 2)
        bus.cut = set()
        await until(lambda: a.status_of("beta") == "active" and b.status_of("alpha") == "active", 2)
        await stop_all(a, b)
        return a, b
    a, b = run(scenario())
    assert "CRIT: Cluster node beta returning after partition." in a.log()
    assert "CRIT: Cluster node alpha returning after partition." in b.log()


def test_a_peer_back_from_the_dead_is_watched_on_time_again(tmp_path, monkeypatch):
    # while beta is dead alpha's death check has no deadline and sleeps long; beta's
    # first packet back must bring it forward, or beta's next death would be late
    monkeypatch.setattr("heartbeat_py.daemon.core.START_LAPSE", 0.2)

    async def scenario():
        bus = Bus()
        a, b = Node(tmp_path, "alpha", bus).start(), Node(tmp_path, "beta", bus).start()
        await until(lambda: a.status_of("beta") == "active", 3)
        await past_start_lapse((a, "beta"))
        bus.cut = {("beta", "alpha")}
        await until(lambda: a.status_of("beta") == "dead", 2, "beta dead (cut)")
        bus.cut = set()
        await until(lambda: a.status_of("beta") == "active", 2, "beta back")
        await b.crash()
        t0 = time.monotonic()
        await until(lambda: a.status_of("beta") == "dead", 3, "beta dead (crash)")
        took = time.monotonic() - t0
        await stop_all(a)
        return took
    took = run(scenario())
    assert 0.5 - 0.12 <= took <= 0.5 + 0.2, took


def test_a_steady_pair_does_not_wake_to_check_for_deaths(tmp_path, monkeypatch):
    # every heartbeat moves the deadline on: with packets flowing, the death check's
    # timer is pushed back and never fires (an idle daemon's wake-ups are its CPU)
    monkeypatch.setattr("heartbeat_py.daemon.core.START_LAPSE", 0.2)
    fired = []

    async def scenario():
        bus = Bus()
        a, b = Node(tmp_path, "alpha", bus).start(), Node(tmp_path, "beta", bus).start()
        await until(lambda: a.status_of("beta") == "active" and b.status_of("alpha") == "active", 3)
        await past_start_lapse((a, "beta"), (b, "alpha"))
        original = a.daemon._housekeeping
        a.daemon._housekeeping = lambda: (fired.append(time.monotonic()), original())
        await asyncio.sleep(1.5)            # the window watched: three deadtimes
        steady = len(fired)
        await b.crash()
        await until(lambda: a.status_of("beta") == "dead", 3, "beta dead")
        await stop_all(a)
        return steady
    steady = run(scenario())
    assert steady == 0, steady
    assert fired        # and it did fire for the death


@pytest.mark.parametrize("extra, start, inner_auth", [
    ("", b"###\n", True),
    ("msgfmt classic\n", b">>>\n", True),
    ("msgfmt netstring\n", b"###\n", False),
])
def test_wire_form_follows_msgfmt(tmp_path, extra, start, inner_auth):
    async def scenario():
        bus = Bus()
        a = Node(tmp_path, "alpha", bus, extra=extra).start()
        b = Node(tmp_path, "beta", bus).start()
        await until(lambda: b.status_of("alpha") == "active", 3)
        await stop_all(a, b)
        return bus
    bus = run(scenario())
    ours = [data for sender, data in bus.sent if sender == "alpha"]
    assert all(d.startswith(start) for d in ours)
    keyring = Keyring.single(1, "sha1", b"secret")
    assert all(("auth" in decode_packet(d, keyring)) == inner_auth for d in ours)


def test_a_peer_without_flow_control_turns_ours_off(tmp_path):
    async def scenario():
        bus = Bus()
        a, b = Node(tmp_path, "alpha", bus).start(), Node(tmp_path, "beta", bus).start()
        b.daemon.flow_control = False          # a heartbeat 1.2 peer: no protocol field
        await until(lambda: a.status_of("alpha") == "active" and b.status_of("beta") == "active", 3)
        await until(lambda: not a.daemon.flow_control, 1)
        await stop_all(a, b)
        return a
    a = run(scenario())
    assert "flow control disabled due to different version heartbeat" in a.log()


def test_acks_are_sent_so_a_real_peer_can_free_its_history(tmp_path):
    async def scenario():
        bus = Bus()
        a, b = Node(tmp_path, "alpha", bus).start(), Node(tmp_path, "beta", bus).start()
        await until(lambda: a.daemon.history.acked.get("beta", 0) >= 10, 4, "acks")
        await stop_all(a, b)
        return a
    a = run(scenario())
    assert a.daemon.history.unacked(["beta"]) < 20


def test_a_late_heartbeat_is_logged_with_its_delay(tmp_path):
    async def scenario():
        bus = Bus()
        a, b = Node(tmp_path, "alpha", bus).start(), Node(tmp_path, "beta", bus).start()
        await until(lambda: a.status_of("beta") == "active", 3)
        bus.cut = {("beta", "alpha")}
        await asyncio.sleep(0.32)            # > warntime 300 ms, < deadtime 500 ms
        bus.cut = set()
        await until(lambda: "Late heartbeat" in a.log(), 1)
        status = a.status_of("beta")
        await stop_all(a, b)
        return a, status
    a, status = run(scenario())
    line = next(l for l in a.log().splitlines() if "Late heartbeat" in l)
    interval = int(line.split("interval ")[1].split(" ms")[0])
    assert ": Late heartbeat: Node beta: interval" in line and 300 < interval < 1000
    assert "WARN: Late" in line or (interval > 500 and "CRIT: Late" in line)   # a slow machine
    assert status == "active"


@pytest.mark.parametrize("keepalive_ms", [100, 200])
def test_keepalive_paces_our_statuses(tmp_path, keepalive_ms):
    keyring = Keyring.single(1, "sha1", b"secret")

    async def scenario():
        bus = Bus()
        heard = []          # when beta received each status of alpha's

        def record(data, sender, receiver):
            if sender == "alpha" and receiver == "beta":
                if decode_packet(data, keyring).get("t") == "status":
                    heard.append(time.monotonic())
            return False
        bus.drop = record
        a = Node(tmp_path, "alpha", bus)
        cf = a.dir / "etc" / "ha.cf"
        cf.write_text(cf.read_text().replace("keepalive 100ms", f"keepalive {keepalive_ms}ms"))
        a.start()
        b = Node(tmp_path, "beta", bus).start()
        await until(lambda: a.status_of("alpha") == "active", 3, "alpha active")
        t0 = time.monotonic()
        await asyncio.sleep(1.5)            # the window we count statuses in
        await stop_all(a, b)
        return [t for t in heard if t > t0 + 0.01]
    heard = run(scenario())
    gaps = [later - earlier for earlier, later in zip(heard, heard[1:])]
    interval = keepalive_ms / 1000
    assert len(heard) >= 1.5 / interval - 1
    assert all(interval * 0.6 < g < interval * 1.5 for g in gaps), gaps


def test_a_client_status_query_is_answered_offline(tmp_path):
    """What a 3.0.6 peer's `cl_status clientstatus alpha ipfail` sends and waits for."""
    from heartbeat_py.wire import kinds
    keyring = Keyring.single(1, "sha1", b"secret")

    async def scenario():
        bus = Bus()
        a, b = Node(tmp_path, "alpha", bus).start(), Node(tmp_path, "beta", bus).start()
        await until(lambda: b.status_of("alpha") == "active", 3)
        b.daemon.send(kinds.QueryClientStatus("ipfail", "4242", "alpha").to_message())

        def answer():
            for sender, data in bus.sent:
                msg = decode_packet(data, keyring)
                if sender == "alpha" and msg.get("t") == "respond-cstatus":
                    return msg
        got = await until(answer, 2, "respond-cstatus")
        await stop_all(a, b)
        return got
    msg = run(scenario())
    assert kinds.parse(msg) == kinds.ClientStatus("beta", "ipfail", "4242", "offline")

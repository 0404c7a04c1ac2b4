"""What arrives from the network cannot crash the daemon or change membership unless
it is an authentic, in-sequence packet of a cluster node; refusals are logged in
3.0.6's words, and rate-limited."""
import asyncio
import random

from heartbeat_py.daemon.inbound import Accepted, Refusal, accept, claimed_sender
from heartbeat_py.wire import Keyring, Message, WireFormat, encode_packet, kinds
from tests.unit.daemon_bus import Bus, Node, run, stop_all, until

KEY = Keyring.single(1, "sha1", b"secret")
WRONG = Keyring.single(1, "sha1", b"guess")


def status_packet(src="beta", seq=1, hg=0x10, keyring=KEY, fmt=WireFormat.NETSTRING, st="active"):
    msg = kinds.Status(st, 500, 1).to_message()
    for name, value in (("src", src), ("seq", "%x" % seq), ("hg", "%x" % hg), ("ts", "6b06821b"),
                        ("ttl", "3")):
        msg.add(name, value)
    return encode_packet(msg, keyring, fmt)


def test_accept_reads_an_authentic_packet_and_lowercases_the_sender():
    got = accept(status_packet(src="BETA"), ("192.0.2.2", 694), KEY, ["alpha", "beta"])
    assert isinstance(got, Accepted) and got.env.src == "beta" and got.env.seq == 1


def test_refusals_say_why_in_3_0_6_words():
    nodes = ["alpha", "beta"]
    src = ("192.0.2.9", 694)
    wrong = accept(status_packet(keyring=WRONG), src, KEY, nodes)
    assert isinstance(wrong, Refusal) and wrong.kind == "auth"
    assert "failed authentication" in wrong.text and "[beta]" in wrong.text
    classic = accept(status_packet(keyring=WRONG, fmt=WireFormat.CLASSIC), src, KEY, nodes)
    assert classic.text == "string2msg_ll: node [beta] failed authentication"
    stranger = accept(status_packet(src="mallory"), src, KEY, nodes)
    assert stranger.text == "process_status_message: bad node [mallory] in message"
    data = status_packet()
    for bad in (data[:40], data + b"junk", b"\xff" * 300, b"", b"###\n", b"x" * 300000):
        assert isinstance(accept(bad, src, KEY, nodes), Refusal)
    no_ts = Message.of(("t", "status"), ("st", "up"), ("src", "beta"), ("seq", "1"))
    assert accept(encode_packet(no_ts, KEY), src, KEY, nodes).kind == "fields"


def test_claimed_sender_for_log_lines_only():
    assert claimed_sender(status_packet(src="beta")) == "beta"
    assert claimed_sender(b"garbage") is None


def test_a_flood_of_hostile_packets_changes_nothing(tmp_path):
    rng = random.Random(1)

    async def scenario():
        bus = Bus()
        a, b = Node(tmp_path, "alpha", bus).start(), Node(tmp_path, "beta", bus).start()
        await until(lambda: a.status_of("beta") == "active", 3)
        captured = [data for sender, data in bus.sent if sender == "beta"]
        gen = b.daemon.generation
        forged = [
            status_packet(src="beta", seq=10 ** 6, hg=gen, keyring=WRONG),     # wrong key
            status_packet(src="beta", seq=5, hg=gen - 1, st="dead"),          # replay, old gen
            status_packet(src="mallory", seq=1),                               # not a node
            status_packet(src="alpha", seq=1, keyring=WRONG),                  # our own name
        ]
        for _ in range(3000):
            choice = rng.randrange(5)
            if choice == 0:
                data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
            elif choice == 1:
                pkt = rng.choice(captured)
                data = pkt[:rng.randrange(len(pkt))]
            elif choice == 2:
                pkt = bytearray(rng.choice(captured))
                pkt[rng.randrange(len(pkt))] ^= 1 << rng.randrange(8)
                data = bytes(pkt)
            elif choice == 3:
                data = rng.choice(captured)                 # replayed as is: old seq, dropped
            else:
                data = rng.choice(forged)
            bus.inject(data)
            if rng.randrange(50) == 0:
                await asyncio.sleep(0)
        await asyncio.sleep(0.5)
        statuses = (a.status_of("beta"), b.status_of("alpha"), a.task.done())
        await stop_all(a, b)
        return a, statuses
    a, statuses = run(scenario())
    assert statuses == ("active", "active", False)
    log = a.log()
    assert "failed authentication" in log
    assert "attempted replay attack [beta]? [gen = " in log
    assert "bad node [mallory] in message" in log
    assert "Status update for node beta: status dead" not in log
    assert len(log.splitlines()) < 150          # rate-limited, not one line per packet
    assert "similar messages suppressed" not in log or "suppressed)" in log


def test_a_resource_layer_that_raises_does_not_stop_heartbeats(tmp_path):
    class Broken:
        def __init__(self, api, config):
            pass

        def __getattr__(self, name):
            def fail(*args):
                raise RuntimeError(f"{name} is broken")
            return fail

    async def scenario():
        bus = Bus()
        a = Node(tmp_path, "alpha", bus, resource_manager=Broken).start()
        b = Node(tmp_path, "beta", bus).start()
        await until(lambda: a.status_of("beta") == "active" and b.status_of("alpha") == "active", 3)
        await stop_all(a, b)
        return a
    a = run(scenario())
    assert "ERROR: resource layer: comm_up failed" in a.log()

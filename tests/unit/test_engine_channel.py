"""The replication connection's receive side: what it holds in memory, and that packets
of every size still arrive whole."""
import asyncio
import hashlib
import socket

from drbd_py.engine import channel as ch
from drbd_py.engine.channel import Channel, receive_buffer


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        return int(f.read().split("VmRSS:")[1].split()[0])


def connected_pair() -> tuple[Channel, Channel]:
    """Two channels over TCP on loopback (the channel sets TCP_NODELAY)."""
    listener = socket.create_server(("127.0.0.1", 0))
    a = socket.create_connection(listener.getsockname())
    b, _ = listener.accept()
    listener.close()
    return Channel(a, "a"), Channel(b, "b")


def test_an_unused_receive_buffer_is_not_resident():
    before = rss_kib()
    buffers = [receive_buffer(ch.RECV_BUFFER) for _ in range(16)]   # 64 MiB mapped
    assert rss_kib() - before < 4 * 1024
    assert len(buffers) == 16


def test_small_and_oversized_packets_arrive_whole():
    async def scenario():
        sender, receiver = connected_pair()
        got = []
        done = asyncio.get_running_loop().create_future()

        def on_packet(ptype, volume, payload):
            got.append((ptype, volume, hashlib.sha1(payload).hexdigest()))
            if ptype == 9 and not done.done():
                done.set_result(None)

        receiver.attach(on_packet)
        small = [bytes([i]) * (i * 7) for i in range(50)]
        big = bytes(range(256)) * ((ch.RECV_BUFFER + 12345) // 256)    # grows the buffer
        for i, p in enumerate(small):
            sender.send(1, i, p)
        sender.send(2, 0, big)
        sender.send(9, 0, b"end")
        await asyncio.wait_for(done, 10)
        sender.close("test over")
        receiver.close("test over")
        return got, small, big
    got, small, big = asyncio.run(scenario())
    sha = lambda p: hashlib.sha1(p).hexdigest()
    assert got == ([(1, i, sha(p)) for i, p in enumerate(small)]
                   + [(2, 0, sha(big)), (9, 0, sha(b"end"))])


def test_after_a_burst_the_receive_buffer_is_given_back_and_still_works():
    async def scenario():
        sender, receiver = connected_pair()
        got = []
        waiters = {}

        def on_packet(ptype, volume, payload):
            got.append((ptype, len(payload)))
            if ptype in waiters and not waiters[ptype].done():
                waiters[ptype].set_result(None)

        receiver.attach(on_packet)
        loop = asyncio.get_running_loop()
        waiters[8] = loop.create_future()
        chunk = b"\xa5" * (64 * 1024)
        for _ in range(160):                # 10 MiB through a 4 MiB buffer
            sender.send(1, 0, chunk)
        sender.send(8, 0, b"burst over")
        await asyncio.wait_for(waiters[8], 10)
        full = rss_kib()
        receiver.trim_receive_buffer()
        trimmed = rss_kib()
        waiters[9] = loop.create_future()
        sender.send(2, 0, chunk)
        sender.send(9, 0, b"after")
        await asyncio.wait_for(waiters[9], 10)
        sender.close("test over")
        receiver.close("test over")
        return got, full, trimmed
    got, full, trimmed = asyncio.run(scenario())
    assert full - trimmed > 3 * 1024, (full, trimmed)
    assert got == [(1, 64 * 1024)] * 160 + [(8, 10), (2, 64 * 1024), (9, 5)]

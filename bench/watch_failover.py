"""Run in the client node: watch a service on a VIP through a failover.

    python3 watch_failover.py VIP PORT URLPATH EXPECT GOFILE SECONDS

Pings VIP every 10 ms and starts an HTTP GET of URLPATH every 20 ms (each with
1 s to answer).  Prints `ready` once both answer.  Then waits for GOFILE (the
host writes it once the owner is dead and its address gone) and prints
`vip T` at the first echo reply to a request sent after that, and `svc T` at
the first GET whose body holds EXPECT started after that (T: CLOCK_MONOTONIC,
shared by all namespaces of the machine), `timeout` after SECONDS.
Standard library only: it also runs under the system's python3.
"""
import asyncio
import os
import socket
import struct
import sys
import time


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


class Watch:
    def __init__(self, vip, port, path, expect, gofile):
        self.vip, self.port, self.path, self.expect, self.gofile = vip, port, path, expect, gofile
        self.go_at = None               # monotonic time the outage was announced
        self.seen = {}                  # "vip"/"svc" -> first time after go
        self.ready = {"vip": False, "svc": False}
        self.sent = {}                  # icmp seq -> send time
        self.ident = os.getpid() & 0xFFFF

    def note(self, what, started):
        if self.go_at is None:
            if not self.ready[what]:
                self.ready[what] = True
                if all(self.ready.values()):
                    print("ready", flush=True)
        elif started >= self.go_at and what not in self.seen:
            self.seen[what] = time.monotonic()
            print(f"{what} {self.seen[what]:.6f}", flush=True)

    def on_icmp(self, sock):
        try:
            data, peer = sock.recvfrom(2048)
        except BlockingIOError:
            return
        icmp = data[(data[0] & 0x0F) * 4:]
        kind, _code, _sum, rid, seq = struct.unpack("!BBHHH", icmp[:8])
        if kind == 0 and rid == self.ident and peer[0] == self.vip and seq in self.sent:
            self.note("vip", self.sent.pop(seq))

    async def pinger(self, sock):
        seq = 0
        while True:
            seq = (seq + 1) & 0xFFFF
            header = struct.pack("!BBHHH", 8, 0, 0, self.ident, seq)
            packet = struct.pack("!BBHHH", 8, 0, checksum(header + b"bench"), self.ident, seq)
            self.sent[seq] = time.monotonic()
            try:
                sock.sendto(packet + b"bench", (self.vip, 0))
            except OSError:
                pass                    # no route/ARP yet: the next one
            await asyncio.sleep(0.01)

    async def get_once(self):
        started = time.monotonic()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.vip, self.port), 1.0)
        except (OSError, asyncio.TimeoutError):
            return
        try:
            writer.write(f"GET {self.path} HTTP/1.0\r\nHost: {self.vip}\r\n\r\n".encode())
            body = await asyncio.wait_for(reader.read(65536), 1.0)
            if self.expect.encode() in body:
                self.note("svc", started)
        except (OSError, asyncio.TimeoutError):
            pass
        finally:
            writer.close()

    async def getter(self):
        tasks = set()
        while True:
            t = asyncio.ensure_future(self.get_once())
            tasks.add(t)
            t.add_done_callback(tasks.discard)
            await asyncio.sleep(0.02)

    async def run(self, seconds):
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        sock.setblocking(False)
        loop.add_reader(sock, self.on_icmp, sock)
        workers = [asyncio.ensure_future(self.pinger(sock)), asyncio.ensure_future(self.getter())]
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                if self.go_at is None and os.path.exists(self.gofile):
                    self.go_at = time.monotonic()
                    print(f"go {self.go_at:.6f}", flush=True)
                if len(self.seen) == 2:
                    return 0
                await asyncio.sleep(0.002)
            print("timeout", flush=True)
            return 1
        finally:
            for w in workers:
                w.cancel()
            sock.close()


def main(argv):
    vip, port, path, expect, gofile, seconds = argv
    return asyncio.run(Watch(vip, int(port), path, expect, gofile).run(float(seconds)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

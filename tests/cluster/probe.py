"""One ICMP echo with a sub-second deadline, run inside a node.

    python3 probe.py ADDRESS TIMEOUT     exit 0: answered, 1: no answer

The machine's `ping` is GNU inetutils: whole seconds only, and a lost
reply costs 2-3 s; partition tests ask "reachable?" many times.
"""
import os
import select
import socket
import struct
import sys
import time


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo(address, timeout, every=0.2):
    """True when an echo reply from `address` comes within `timeout` s.
    Requests go out every `every` s: the first may wait in the kernel for
    ARP, whose retries after a cut come only once a second."""
    ident = os.getpid() & 0xFFFF
    payload = b"hbt-probe"
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as s:
        deadline = time.monotonic() + timeout
        seq, next_send = 0, 0.0
        while (left := deadline - time.monotonic()) > 0:
            if time.monotonic() >= next_send:
                seq += 1
                header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
                packet = struct.pack("!BBHHH", 8, 0, checksum(header + payload), ident, seq)
                s.sendto(packet + payload, (address, 0))
                next_send = time.monotonic() + every
            wait = min(left, max(0.0, next_send - time.monotonic()))
            if not select.select([s], [], [], wait)[0]:
                continue
            data, peer = s.recvfrom(2048)
            icmp = data[(data[0] & 0x0F) * 4:]
            kind, _code, _sum, rid, _seq = struct.unpack("!BBHHH", icmp[:8])
            if kind == 0 and rid == ident and peer[0] == address:
                return True
    return False


if __name__ == "__main__":
    sys.exit(0 if echo(sys.argv[1], float(sys.argv[2])) else 1)

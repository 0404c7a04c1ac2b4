"""The wire between two test nodes, as Python sees it: one TCP stream's throughput and
the round trip of a one-byte ping-pong.  Tells what the DRBD link could carry at best.

    python3 netprobe.py serve PORT          (in the receiving node; one client, then exits)
    python3 netprobe.py send HOST PORT      (prints {"bytes_per_s": .., "rtt_us": ..})
"""
import json
import socket
import struct
import sys
import time

TOTAL = 1 << 30
CHUNK = 1 << 20
PINGS = 2000


def recv_exact(sock, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        got = sock.recv(n - len(buf))
        if not got:
            raise ConnectionError("peer closed")
        buf += got
    return bytes(buf)


def serve(port: int) -> None:
    with socket.create_server(("", port)) as listener:
        listener.settimeout(60)
        conn, _ = listener.accept()
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            left = struct.unpack("!Q", recv_exact(conn, 8))[0]
            view = memoryview(bytearray(CHUNK))
            while left:
                n = conn.recv_into(view, min(CHUNK, left))
                if not n:
                    raise ConnectionError("peer closed")
                left -= n
            conn.sendall(b"k")
            for _ in range(PINGS):
                conn.sendall(recv_exact(conn, 1))


def send(host: str, port: int) -> dict:
    end = time.monotonic() + 30
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=5)
            break
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.05)
    with sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        data = b"\0" * CHUNK
        t0 = time.monotonic()
        sock.sendall(struct.pack("!Q", TOTAL))
        for _ in range(TOTAL // CHUNK):
            sock.sendall(data)
        recv_exact(sock, 1)
        stream = time.monotonic() - t0
        t0 = time.monotonic()
        for _ in range(PINGS):
            sock.sendall(b"p")
            recv_exact(sock, 1)
        rtt = (time.monotonic() - t0) / PINGS
    return {"bytes_per_s": TOTAL / stream, "rtt_us": rtt * 1e6}


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    else:
        print(json.dumps(send(sys.argv[2], int(sys.argv[3]))))

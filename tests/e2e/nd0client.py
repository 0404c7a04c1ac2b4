"""The client node's side of nd0svc (tests/e2e/nd0svc_server.py), run inside the client node.

Usage:
  nd0client.py put ADDRESS PORT PREFIX COUNT SIZE SEED
  nd0client.py check ADDRESS PORT
  nd0client.py who ADDRESS PORT
  nd0client.py wait ADDRESS PORT TIMEOUT

put: writes COUNT files PREFIX-NNN of SIZE bytes (content derived from SEED) and prints
     `NAME SHA256` for each one the service acknowledged; exit 1 at the first refusal.
check: reads `NAME SHA256` lines on stdin, fetches each file, prints `missing NAME` or
     `corrupt NAME` for each that is not as written; exit 1 if any is not.
who: prints the node that answers.
wait: asks WHO every 50 ms until answered; prints the CLOCK_MONOTONIC time of the answer
     (comparable with the host's: there is no time namespace) and the node; exit 1 on timeout.
"""
import hashlib
import socket
import sys
import time

CONNECT_TIMEOUT = 0.5


def request(address, port, line, payload=b"", timeout=10.0):
    """One request; returns (status line, body bytes)."""
    with socket.create_connection((address, port), timeout=min(timeout, CONNECT_TIMEOUT)) as s:
        s.settimeout(timeout)
        s.sendall(line.encode() + b"\n" + payload)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    reply = b"".join(chunks)
    head, _, body = reply.partition(b"\n")
    return head.decode(errors="replace"), body


def content(seed, name, size):
    out = bytearray()
    block = hashlib.sha256(f"{seed}/{name}".encode()).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block * 64
    return bytes(out[:size])


def put(address, port, prefix, count, size, seed):
    for i in range(int(count)):
        name = f"{prefix}-{i:03d}"
        data = content(seed, name, int(size))
        head, _ = request(address, port, f"PUT {name} {len(data)}", data)
        if head != "OK":
            print(f"refused {name}: {head}", file=sys.stderr)
            return 1
        print(name, hashlib.sha256(data).hexdigest(), flush=True)
    return 0


def check(address, port):
    bad = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        name, digest = line.split()
        head, body = request(address, port, f"GET {name}")
        if not head.startswith("OK "):
            print(f"missing {name}")
            bad += 1
        elif hashlib.sha256(body).hexdigest() != digest or int(head.split()[1]) != len(body):
            print(f"corrupt {name}")
            bad += 1
    return 1 if bad else 0


def who(address, port):
    head, _ = request(address, port, "WHO", timeout=3)
    if not head.startswith("OK "):
        print(head, file=sys.stderr)
        return 1
    print(head.split()[1])
    return 0


def wait(address, port, timeout):
    deadline = time.monotonic() + float(timeout)
    while time.monotonic() < deadline:
        try:
            head, _ = request(address, port, "WHO", timeout=1)
            if head.startswith("OK "):
                print(f"{time.monotonic():.3f} {head.split()[1]}")
                return 0
        except OSError:
            pass
        time.sleep(0.05)
    print("no answer", file=sys.stderr)
    return 1


COMMANDS = {"put": (put, 6), "check": (check, 2), "who": (who, 2), "wait": (wait, 3)}


def main(argv):
    if not argv or argv[0] not in COMMANDS or len(argv) - 1 != COMMANDS[argv[0]][1]:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    func, _ = COMMANDS[argv[0]]
    args = list(argv[1:])
    args[1] = int(args[1])
    try:
        return func(*args)
    except OSError as exc:
        print(f"nd0client: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

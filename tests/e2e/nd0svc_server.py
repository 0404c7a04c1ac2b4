"""nd0svc: the tiny file service of the classic scenario, serving the files of one folder
(/mnt/nd0, the DRBD-backed file system) over TCP on the cluster's service address.

One request per connection, a line each way:
    PUT NAME LENGTH\\n<LENGTH bytes>   -> OK            (the file and its folder entry fsynced)
    GET NAME\\n                        -> OK LENGTH\\n<bytes> | ERR no such file
    LIST\\n                            -> OK COUNT\\n then one name a line
    WHO\\n                             -> OK NODENAME   (which node answers)

Started and stopped by the init script next to it (`nd0svc start|stop|status`); standard
library only.  `python3 nd0svc_server.py ROOT ADDRESS PORT PIDFILE`.
"""
import os
import re
import signal
import socketserver
import sys
import threading

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_FILE = 64 << 20


class Handler(socketserver.StreamRequestHandler):
    timeout = 30

    def handle(self):
        line = self.rfile.readline(300).decode(errors="replace").split()
        if not line:
            return
        verb, args = line[0].upper(), line[1:]
        try:
            reply = getattr(self, f"do_{verb}", self.unknown)(*args)
        except TypeError:
            reply = b"ERR wrong arguments\n"
        except OSError as exc:
            reply = f"ERR {exc.strerror or exc}\n".encode()
        self.wfile.write(reply)

    def unknown(self, *_args):
        return b"ERR unknown request\n"

    def path(self, name):
        if not NAME.match(name):
            raise OSError(0, "bad file name")
        return os.path.join(self.server.root, name)

    def do_PUT(self, name, length):
        size = int(length) if length.isdigit() else -1
        if not 0 <= size <= MAX_FILE:
            return b"ERR bad length\n"
        target = self.path(name)
        data = self.rfile.read(size)
        if len(data) != size:
            return b"ERR short data\n"
        temp = f"{target}.part"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, target)
        # the rename is only durable once the folder is on disk too
        dirfd = os.open(self.server.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)
        return b"OK\n"

    def do_GET(self, name):
        try:
            with open(self.path(name), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return b"ERR no such file\n"
        return f"OK {len(data)}\n".encode() + data

    def do_LIST(self):
        names = sorted(n for n in os.listdir(self.server.root)
                       if NAME.match(n) and not n.endswith(".part"))
        return f"OK {len(names)}\n".encode() + "".join(f"{n}\n" for n in names).encode()

    def do_WHO(self):
        return f"OK {os.uname().nodename}\n".encode()


class Server(socketserver.ThreadingTCPServer):
    # a stop lets the requests under way finish: a PUT is answered OK only once on disk
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True


def main(argv):
    if len(argv) != 4:
        print("usage: nd0svc_server.py ROOT ADDRESS PORT PIDFILE", file=sys.stderr)
        return 2
    root, address, port, pidfile = argv
    # nothing of ours may keep the file system busy: Filesystem stop must unmount it
    os.chdir("/")
    server = Server((address, int(port)), Handler)
    server.root = root
    with open(pidfile, "w") as f:
        f.write(f"{os.getpid()}\n")

    def stop(_sig, _frame):
        # shutdown() waits for serve_forever, which runs in this very thread
        threading.Thread(target=server.shutdown).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

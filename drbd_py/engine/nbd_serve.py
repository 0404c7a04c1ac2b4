"""Serve a plain file over NBD with the engine's server (tests and benchmarks).
Run as `python -m drbd_py.engine.nbd_serve`.

Usage:
  nbd_serve [--read-only] [--name=NAME] [--pidfile=FILE] SOCKET FILE

Options:
  --read-only      refuse writes (as a Secondary does)
  --name=NAME      export name [default: ]
  --pidfile=FILE   write our pid there once the socket accepts connections

Exits cleanly on SIGTERM or SIGINT.
"""
import asyncio
import logging
import os
import signal
import sys
import threading

from docopt import docopt

from .nbd import NbdServer
from .nbd_file_backend import FileBackend


async def serve(socket_path: str, path: str, read_only: bool, name: str,
                pidfile: str | None) -> None:
    backend = FileBackend(path, read_only=read_only)
    server = NbdServer(socket_path, backend, export_name=name)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if pidfile:
        with open(pidfile + ".tmp", "w") as f:
            f.write(f"{os.getpid()}\n")
        os.rename(pidfile + ".tmp", pidfile)
    try:
        await stop.wait()
    finally:
        await server.stop()
        backend.close()


class ServerThread:
    """An NbdServer in its own thread and event loop, for blocking callers (tests)."""

    @classmethod
    def over_new_file(cls, path: str, size: int, socket_path: str, backend_class=FileBackend,
                      **kwargs) -> "ServerThread":
        """Serve a fresh sparse file of `size` bytes; stop() also closes its backend."""
        with open(path, "wb") as f:
            f.truncate(size)
        srv = cls(socket_path, backend_class(path), **kwargs)
        srv.path = path
        return srv

    def __init__(self, socket_path: str, backend, **kwargs):
        self.socket_path = socket_path
        self.loop = asyncio.new_event_loop()
        self.server = NbdServer(socket_path, backend, **kwargs)
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                        name="nbd-server")
        self._thread.start()
        self.run(self.server.start())

    def run(self, coro, timeout: float = 30.0):
        """Run a coroutine in the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn, *args):
        """Call a plain function in the server's loop and return its result."""
        async def wrapper():
            return fn(*args)
        return self.run(wrapper())

    def stop(self) -> None:
        if self._thread.is_alive():
            try:
                self.run(self.server.stop())
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self._thread.join(10)
                self.loop.close()
                if hasattr(self, "path"):
                    self.server.backend.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def main(argv=None) -> int:
    args = docopt(__doc__, argv=argv)
    logging.basicConfig(level=logging.WARNING, format="nbd_serve: %(message)s")
    try:
        asyncio.run(serve(args["SOCKET"], args["FILE"], args["--read-only"], args["--name"],
                          args["--pidfile"]))
    except OSError as e:
        print(f"nbd_serve: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

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

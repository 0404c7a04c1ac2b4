"""The local control socket: how cl_status, hb_standby, hb_takeover and `heartbeat
-k/-r` talk to the running daemon.

A unix stream socket under /var/run/heartbeat, mode 0600, and the peer's uid is
checked too (SO_PEERCRED): only root may use it. JSON lines: one request object
`{"cmd": NAME, ...}` per line, one answer object per line, `{"ok": true, ...}` or
`{"ok": false, "error": "one line"}`. docs/heartbeat-daemon.md lists the commands.
"""
from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

MAX_LINE = 64 * 1024
IDLE_TIMEOUT = 30.0         # a client that says nothing for this long is dropped
ROOT_UID = 0

Handler = Callable[[dict], Awaitable[dict]]


class ControlUnavailable(Exception):
    """No daemon answers on the socket."""


class ControlTimeout(Exception):
    """The daemon did not answer in time."""


def peer_uid(sock: socket.socket) -> int | None:
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid


class ControlServer:
    def __init__(self, path: Path, handler: Handler, log, allowed_uids=(ROOT_UID,)):
        self.path = Path(path)
        self.handler = handler
        self.log = log
        self.allowed_uids = tuple(allowed_uids)
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        old = os.umask(0o177)       # the socket is born 0600: no window where others may connect
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=str(self.path),
                                                           limit=MAX_LINE)
        finally:
            os.umask(old)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        try:
            self.path.unlink()
        except OSError:
            pass

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            sock = writer.get_extra_info("socket")
            uid = peer_uid(sock) if sock is not None else None
            if uid not in self.allowed_uids:
                await self._answer(writer, {"ok": False, "error": "permission denied"})
                return
            while True:
                try:
                    line = await asyncio.wait_for(reader.readline(), IDLE_TIMEOUT)
                except (asyncio.LimitOverrunError, ValueError):
                    await self._answer(writer, {"ok": False, "error": "request too long"})
                    return
                if not line:
                    return
                await self._answer(writer, await self._dispatch(line))
        except (asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _dispatch(self, line: bytes) -> dict:
        try:
            request = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            return {"ok": False, "error": "request is not JSON"}
        if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
            return {"ok": False, "error": "request without cmd"}
        try:
            return await self.handler(request)
        except Exception as e:      # a bad request must not take the daemon down
            self.log.error("control socket: %s failed: %s", request.get("cmd"), e, exc_info=True)
            return {"ok": False, "error": f"internal error: {e}"}

    @staticmethod
    async def _answer(writer: asyncio.StreamWriter, answer: dict) -> None:
        writer.write(json.dumps(answer).encode() + b"\n")
        await writer.drain()


def request(path: Path, cmd: str, timeout: float = 5.0, **args) -> dict:
    """Send one request and return the answer (blocking; for the command-line tools)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError) as e:
            raise ControlUnavailable(str(e)) from None
        except OSError as e:
            raise ControlUnavailable(str(e)) from None
        sock.sendall(json.dumps({"cmd": cmd, **args}).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise ControlUnavailable("connection closed")
            data += chunk
            if len(data) > 16 * MAX_LINE:
                raise ControlUnavailable("answer too long")
        return json.loads(data)
    except socket.timeout:
        raise ControlTimeout(f"no answer to {cmd} within {timeout} s") from None
    finally:
        sock.close()

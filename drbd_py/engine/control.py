"""The control socket: one JSON object per line each way (docs/drbd-control.md)."""
from __future__ import annotations

import asyncio
import json
import logging
import os

from .errors import EngineError

log = logging.getLogger("drbd_py.engine")
MAX_LINE = 1 << 20


async def reply_to(engine, msg) -> dict:
    """The reply object for one request."""
    if not isinstance(msg, dict):
        return {"ok": False, "code": 20, "error": "drbd-py-engine: request is not an object"}
    version = msg.get("v", 1)
    if version != 1:
        return {"ok": False, "code": 20,
                "error": f"drbd-py-engine: control protocol version {version} not supported"}
    try:
        result = await engine.handle(msg)
    except EngineError as e:
        return {"ok": False, "code": e.code, "error": e.message}
    except Exception as e:                  # a bug must not take the daemon down
        log.exception("step %s failed", msg.get("op"))
        return {"ok": False, "code": 20, "error": f"drbd-py-engine: internal error: {e}"}
    return {"ok": True, **result}


class ControlServer:
    def __init__(self, engine, path: str):
        self.engine = engine
        self.path = path
        self._server: asyncio.AbstractServer | None = None
        self._clients: set[asyncio.Task] = set()

    async def start(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        old = os.umask(0o077)
        try:
            self._server = await asyncio.start_unix_server(self._client, self.path,
                                                           limit=MAX_LINE)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._clients):
            task.cancel()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._clients.add(task)
        try:
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    writer.write(b'{"ok": false, "code": 20, "error": "request too long"}\n')
                    break
                if not line:
                    break
                try:
                    msg = json.loads(line)
                except ValueError:
                    reply = {"ok": False, "code": 20, "error": "drbd-py-engine: bad request"}
                else:
                    reply = await reply_to(self.engine, msg)
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._clients.discard(task)
            writer.close()

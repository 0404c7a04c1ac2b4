"""The control socket answers bad requests with one error line and lives on; only
root (the allowed uids) may use it; the socket is born 0600."""
import asyncio
import json
import logging
import os
import stat

import pytest

from heartbeat_py.daemon.control import MAX_LINE, ControlServer, ControlUnavailable, request


async def talk(path, lines):
    reader, writer = await asyncio.open_unix_connection(str(path), limit=4 * MAX_LINE)
    answers = []
    for line in lines:
        writer.write(line)
        await writer.drain()
        got = await reader.readline()
        answers.append(json.loads(got) if got else None)
    writer.close()
    return answers


def serve(tmp_path, scenario, allowed_uids=(os.geteuid(),)):
    path = tmp_path / "run" / "hbpy-control.sock"

    async def handler(req):
        if req["cmd"] == "boom":
            raise RuntimeError("broken handler")
        return {"ok": True, "echo": req["cmd"]}

    async def main():
        server = ControlServer(path, handler, logging.getLogger("test-control"),
                               allowed_uids=allowed_uids)
        await server.start()
        try:
            return stat.S_IMODE(path.stat().st_mode), await scenario(path)
        finally:
            server.close()
    return asyncio.run(asyncio.wait_for(main(), 10))


def test_bad_requests_get_an_error_line_and_the_server_lives_on(tmp_path):
    lines = [b"not json\n", b"[1, 2]\n", b'{"no": "cmd"}\n', b'{"cmd": "boom"}\n',
             b'\xff\xfe\n', b'{"cmd": "ping"}\n']
    mode, answers = serve(tmp_path, lambda path: talk(path, lines))
    assert mode == 0o600
    assert [a["ok"] for a in answers] == [False] * 5 + [True]
    assert answers[0]["error"] == "request is not JSON"
    assert answers[1]["error"] == answers[2]["error"] == "request without cmd"
    assert answers[3]["error"] == "internal error: broken handler"
    assert answers[5] == {"ok": True, "echo": "ping"}


def test_an_over_long_request_is_refused_and_the_next_client_is_served(tmp_path):
    async def scenario(path):
        first = await talk(path, [b'{"cmd": "' + b"x" * (2 * MAX_LINE) + b'"}\n'])
        second = await asyncio.to_thread(request, path, "ping")
        return first, second
    _, (first, second) = serve(tmp_path, scenario)
    assert first == [{"ok": False, "error": "request too long"}]
    assert second == {"ok": True, "echo": "ping"}


def test_only_allowed_uids_are_served(tmp_path):
    _, answers = serve(tmp_path, lambda path: talk(path, [b'{"cmd": "ping"}\n']),
                       allowed_uids=(os.geteuid() + 4242,))
    assert answers == [{"ok": False, "error": "permission denied"}]


def test_no_daemon_is_said_plainly(tmp_path):
    with pytest.raises(ControlUnavailable):
        request(tmp_path / "nothing.sock", "ping", timeout=1)

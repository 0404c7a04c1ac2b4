"""drbd-py-engine as a process: control socket, client, drbdsetup-py, status file,
NBD export, shutdown.  One node on this machine, files in a temp dir."""
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from drbd_py.engine import client, metadata

BIN = Path(sys.executable).parent
MiB = 1 << 20


def wait_for(cond, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timeout waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def engine(tmp_path):
    rundir = tmp_path / "run"
    env = {**os.environ, "DRBD_PY_RUNDIR": str(rundir), "DRBD_PY_DEVICES": "0",
           "DRBD_PY_LOGFILE": str(tmp_path / "engine.log")}
    proc = subprocess.Popen([str(BIN / "drbd-py-engine"), "-f"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wait_for(lambda: client.engine_running(str(rundir)), what="engine socket")
    yield proc, rundir, env
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def make_disk(path, size):
    with open(path, "wb") as f:
        f.truncate(size)
    metadata.create_md(str(path), out=io.StringIO(), err=io.StringIO())
    return path


def setup(env, *args):
    return subprocess.run([str(BIN / "drbdsetup-py"), *args], env=env, capture_output=True,
                          text=True, timeout=30)


def test_daemon_serves_steps_status_and_nbd(engine, tmp_path):
    proc, rundir, env = engine
    disk = make_disk(tmp_path / "disk.img", 32 * MiB)

    # a second engine on the same node refuses to start
    second = subprocess.run([str(BIN / "drbd-py-engine"), "-f"], env=env, capture_output=True,
                            text=True, timeout=10)
    assert second.returncode == 1 and "already running" in second.stderr

    assert setup(env, "r0", "new-resource").returncode == 0
    r = setup(env, "r0", "attach", "volume=0", "minor=1", "device=/dev/drbd1",
              f"disk={disk}", "meta_disk=internal", "meta_index=null")
    assert r.returncode == 0, r.stderr
    r = setup(env, "r0", "attach", "volume=0", "minor=1", f"disk={disk}")
    assert r.returncode == 10 and "Device is attached to a disk" in r.stderr
    r = setup(env, "r0", "primary")
    assert r.returncode == 17
    assert r.stderr.strip() == "1: State change failed: (-2) Need access to UpToDate data"
    assert setup(env, "r0", "primary", "force=true").returncode == 0

    state = json.loads(setup(env, "status", "r0").stdout)[0]
    assert (state["role"], state["connection"]) == ("Primary", "StandAlone")
    assert state["volumes"][0]["disk"] == "UpToDate"
    text = setup(env, "show-status").stdout
    assert text.startswith("version: 8.2.7 (api:88/proto:86-88)\n")
    assert " 1: cs:StandAlone st:Primary/Unknown ds:UpToDate/DUnknown   r---\n" in text

    # the volume is served over NBD on the Primary
    sock = rundir / "nbd" / "1.sock"
    size = subprocess.run(["nbdinfo", "--size", f"nbd+unix:///?socket={sock}"],
                          capture_output=True, text=True, timeout=20)
    assert size.returncode == 0, size.stderr
    assert int(size.stdout) == metadata.read_md(str(disk)).layout.data_limit
    payload = tmp_path / "payload"
    payload.write_bytes(os.urandom(3 * MiB))
    copy = subprocess.run(["nbdcopy", str(payload), f"nbd+unix:///?socket={sock}"],
                          capture_output=True, text=True, timeout=60)
    assert copy.returncode == 0, copy.stderr
    with open(disk, "rb") as f:
        assert f.read(3 * MiB) == payload.read_bytes()
    # a garbage line on the control socket is answered, the engine lives on
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(rundir / "engine.sock"))
        s.sendall(b"{not json\n")
        assert json.loads(s.makefile().readline())["ok"] is False
    assert client.request("status", rundir=str(rundir))["ok"]
    with pytest.raises(client.EngineRefused) as e:
        client.request("frobnicate", resource="r0", rundir=str(rundir))
    assert e.value.code == 10

    assert setup(env, "shutdown").returncode == 0
    assert proc.wait(15) == 0
    log = (tmp_path / "engine.log").read_text()
    assert "drbd1: role( Secondary -> Primary ) disk( Inconsistent -> UpToDate )" in log
    assert "Forced to consider local data as UpToDate!" in log
    md = metadata.read_md(str(disk))
    assert md.sb.has(metadata.MdFlag.AL_CLEAN) and not md.sb.has(metadata.MdFlag.PRIMARY_IND)


def test_sigterm_takes_resources_down(engine, tmp_path):
    proc, rundir, env = engine
    disk = make_disk(tmp_path / "disk.img", 8 * MiB)
    client.request("new-resource", resource="r0", rundir=str(rundir))
    client.request("attach", resource="r0", volume=0, minor=3, disk=str(disk),
                   rundir=str(rundir))
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    assert not (rundir / "engine.sock").exists()
    # the disk was released: create-md can claim it again
    metadata.create_md(str(disk), force=True, out=io.StringIO(), err=io.StringIO())

"""`make demo`'s program, run as make runs it (quick mode, stdout not a terminal): it tells
the story, exits 0, and leaves nothing behind; interrupted with Ctrl-C it still cleans up."""
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.cluster import storage, wait_until
from tests.cluster.run import namespaces_of, temp_base

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.timeout(200),
              pytest.mark.skipif(os.geteuid() != 0, reason="the demo needs root")]


def start_demo(*args):
    return subprocess.Popen([sys.executable, "-m", "tests.e2e.demo", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)


def dead_fuse_loops():
    """Loop devices over a FUSE file whose daemon is gone (the kernel lost its inode)."""
    return {loop["name"] for loop in storage.list_loops()
            if loop.get("back-ino") is None and "/fuse/" in (loop.get("back-file") or "")}


def leftovers(pid, loops_before):
    """What run `pid` left: namespaces, its processes, loops, mounts, folders."""
    found = [f"netns {ns}" for ns in namespaces_of(pid)]
    found += [f"loop {loop['name']} on {loop.get('back-file')}" for loop in storage.list_loops()
              if f"/hbt{pid}-" in (loop.get("back-file") or "")]
    found += [f"loop {name} over a dead FUSE file" for name in dead_fuse_loops() - loops_before]
    with open("/proc/mounts") as f:
        found += [f"mount {line.split()[1]}" for line in f if f"hbt{pid}-" in line]
    found += [f"folder {p}" for p in temp_base().glob(f"hbt{pid}-*")]
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if proc.name.isdigit() and f"hbt{pid}-".encode() in cmdline:
            found.append(f"process {proc.name}: {cmdline[:120]!r}")
    return found


def test_demo_quick_tells_the_story_exits_0_and_leaves_nothing(e2e_report):
    before = dead_fuse_loops()
    started = time.monotonic()
    demo = start_demo("--quick")
    out, err = demo.communicate(timeout=170)
    took = time.monotonic() - started
    e2e_report("demo --quick", f"{took:.0f} s")
    assert demo.returncode == 0, f"stdout:\n{out}\nstderr:\n{err}"
    assert "\x1b[" not in out, "ANSI codes in the plain output"
    for expected in ("== kill -9 of everything on debian-420",
                     "-> nd0svc answers again from debian-566",
                     "-> all 10 files intact on debian-566",
                     "debian-420: cs SyncTarget",
                     "-> nd0svc answers from debian-420",
                     "-> never both nodes with the VIP, the mount or Primary",
                     "Timeline (seconds since start)",
                     "Everything removed"):
        assert expected in out, f"{expected!r} not in:\n{out}"
    assert leftovers(demo.pid, before) == []


def test_demo_interrupted_by_ctrl_c_cleans_up():
    before = dead_fuse_loops()
    demo = start_demo("--quick")
    lines = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(ln) for ln in demo.stdout], daemon=True)
    reader.start()

    def heartbeat_starting():
        while not lines.empty():
            if "== /etc/init.d/heartbeat start on both" in lines.get():
                return True
        return demo.poll() is not None
    wait_until(heartbeat_starting, 60, message="the demo starting heartbeat")
    assert demo.poll() is None, demo.stderr.read()
    demo.send_signal(signal.SIGINT)
    assert demo.wait(60) == 130
    reader.join(10)
    assert "demo: interrupted" in demo.stderr.read()
    wait_until(lambda: leftovers(demo.pid, before) == [], 5,
               message="nothing left of the interrupted demo")

"""make demo: the classic two-node cluster on this machine, narrated.

Builds debian-420 and debian-566 (and a client) as test nodes, starts DRBD and heartbeat
with the classic files the way admins did, writes files through the service, kills the
preferred node, shows the takeover with the data intact, brings the node back, shows
the resync and the failback, prints a timeline, and removes everything it made (also on
Ctrl-C).  Needs root.

Usage:
  demo.py [--quick] [--plain]
  demo.py (-h | --help)

Options:
  --quick   Less data and no pauses (what the test suite runs).
  --plain   Plain lines even on a terminal (they are the default when stdout is not one).
  -h --help  Show this text.
"""
from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass

from docopt import docopt

from tests.cluster import ClusterError, Run
from tests.cluster.run import sweep_dead_runs
from tests.e2e.classic import (ENGINE_LOG, FAST, HA_LOG, OTHER, PORT, PREFERRED, VIP,
                               ClassicPair, Watch, haresources)
from tests.e2e.demo_view import LiveView, PlainView

NEEDED = ("ip", "nsenter", "unshare", "nft", "losetup", "nbdfuse", "mke2fs", "fusermount3")


@dataclass(frozen=True)
class Sizes:
    disk: str
    files: int                      # written before the kill
    file_size: int
    later_files: int                # written while debian-420 is down: what it resyncs
    later_size: int
    pause: float                    # seconds to let a human read a step's outcome


FULL = Sizes(disk="64M", files=40, file_size=256 << 10, later_files=16, later_size=1 << 20,
             pause=2.5)
QUICK = Sizes(disk="32M", files=10, file_size=16 << 10, later_files=8, later_size=64 << 10,
              pause=0.0)


def story(pair: ClassicPair, view, sizes: Sizes):
    """The scenario, told step by step; raises on anything not as promised."""
    def pause():
        time.sleep(sizes.pause)

    a, b = pair.preferred, pair.other
    view.result(f"{PREFERRED} {a.ip}, {OTHER} {b.ip}, client {pair.client.ip}; "
                f"haresources: {haresources().splitlines()[-1]}")
    view.step("/etc/init.d/drbd start on both (meta-data created at the first attach, as 0.7 did)")
    pair.start_drbd()
    view.step(f"Initial full sync from {PREFERRED}: drbdadm -- --do-what-I-say primary all")
    pair.initial_sync()
    view.step("mke2fs -j /dev/drbd1 on the Primary, then back to Secondary for heartbeat")
    pair.make_filesystem()
    view.step("/etc/init.d/heartbeat start on both")
    pair.start_heartbeat()
    view.result(f"nd0svc answers on {VIP}:{PORT} from {pair.who()}")
    pause()

    view.step(f"Client writes {sizes.files} files through nd0svc")
    files = pair.put("before", sizes.files, sizes.file_size)
    view.result(f"{len(files)} files acknowledged (each fsynced on /mnt/nd0)")
    pause()

    pair.past_start_lapse(a)
    view.step(f"kill -9 of everything on {PREFERRED}, then it reboots (VIP and device gone)")
    killed = time.monotonic()
    pair.crash(a)
    answered_at, by = pair.start_waiting_client(30).answered(40)
    took = answered_at - killed
    view.result(f"nd0svc answers again from {by}, {took:.2f} s after the kill "
                f"(deadtime {pair.timers.deadtime} s)")
    bad = pair.missing(files)
    if bad:
        raise AssertionError(f"after the takeover: {', '.join(bad)}")
    view.result(f"all {len(files)} files intact on {by}")
    pause()

    view.step(f"Client writes {sizes.later_files} more files while {PREFERRED} is down")
    files.update(pair.put("alone", sizes.later_files, sizes.later_size))
    pause()

    view.step(f"{PREFERRED} boots: /etc/init.d/drbd start, /etc/init.d/heartbeat start")
    pair.boot(a)
    view.step(f"auto_failback on: {OTHER} stops the group, {PREFERRED} takes it back")
    pair.wait_service_on(a, timeout=60)
    view.result(f"nd0svc answers from {pair.who()}")
    bad = pair.missing(files)
    if bad:
        raise AssertionError(f"after the failback: {', '.join(bad)}")
    view.result(f"all {len(files)} files intact")
    time.sleep(max(sizes.pause, 0.3))
    if view.watch.violations:
        raise AssertionError(f"both nodes at once: {view.watch.violations[:3]}")
    view.result(f"never both nodes with the VIP, the mount or Primary "
                f"({view.watch.samples} samples, every 50 ms)")
    return took


def log_tails(pair: ClassicPair, lines: int = 12) -> str:
    out = []
    for node in pair.nodes:
        for path in (HA_LOG, ENGINE_LOG):
            text = node.read_file(path, missing_ok=True).splitlines()[-lines:]
            if text:
                out.append(f"--- {node.name}:{path}")
                out += text
    return "\n".join(out)


def prerequisites() -> str | None:
    if os.geteuid() != 0:
        return "the demo builds network namespaces and loop devices: run it as root"
    missing = [t for t in NEEDED if not shutil.which(t)]
    return f"missing tools: {' '.join(missing)} (make deps installs them)" if missing else None


def main(argv=None) -> int:
    args = docopt(__doc__, argv=argv)
    problem = prerequisites()
    if problem:
        print(f"demo: {problem}", file=sys.stderr)
        return 1
    sizes = QUICK if args["--quick"] else FULL
    live = sys.stdout.isatty() and not args["--plain"]

    def terminate(_sig, _frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, terminate)
    for error in sweep_dead_runs():
        print(f"demo: leftovers of an earlier run: {error}", file=sys.stderr)

    started = time.monotonic()
    run, pair, view, watch = Run(), None, None, None
    code, failure = 0, None
    try:
        pair = ClassicPair(run.cluster, FAST, disk_size=sizes.disk)
        watch = Watch(pair.nodes).start()
        view = (LiveView if live else PlainView)(watch, sys.stdout).start()
        view.step("Two nodes and a client on one bridge, classic files (timers: "
                  f"keepalive {FAST.keepalive}, deadtime {FAST.deadtime})")
        took = story(pair, view, sizes)
    except KeyboardInterrupt:
        code, failure = 130, "interrupted"
    except Exception as exc:        # reported in one line, with the nodes' log tails
        code, failure = 1, f"{type(exc).__name__}: {exc}"
    finally:
        # a second Ctrl-C must not leave half of it behind
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if view is not None:
            view.close()
        if watch is not None:
            watch.stop()
        tails = log_tails(pair) if failure and pair is not None and code != 130 else ""
        print("\nCleaning up (nodes, namespaces, loop devices, mounts) ...", flush=True)
        try:
            run.teardown_all()
        except ClusterError as exc:
            code, failure = 1, f"{failure + '; ' if failure else ''}cleanup: {exc}"
    if view is not None:
        print("\nTimeline (seconds since start)")
        print("\n".join(view.timeline()))
    if failure:
        if tails:
            print(tails)
        print(f"\ndemo: {failure}", file=sys.stderr)
        return code
    print(f"\nTakeover after kill -9: {took:.2f} s. Everything removed; "
          f"the demo took {time.monotonic() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

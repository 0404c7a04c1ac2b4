"""Failover: kill -9 of the owner's software, until the peer declares it dead, the
VIP answers a client's ping, the file system is mounted and a file is served through
the VIP.  The real heartbeat 3.0.6 and ours, same ha.cf/haresources, interleaved."""
import subprocess
import sys
import time
from pathlib import Path

from . import hbpair, plot
from .hbpair import FAST, K1D5, OURS, REAL, VIP
from .repeat import Budget, interleave
from .stats import summarize
from .figures import Target

TITLE = "Failover (heartbeat)"
BUDGET, BUDGET_QUICK = 900, 200
WATCH = Path(__file__).with_name("watch_failover.py")
PAYLOAD = "bench-payload-42"
PORT = 8080
EVENTS = ("dead", "vip", "mounted", "svc")

# A service as admins wrote them for heartbeat v1: `benchweb DIR start|stop|status`,
# an HTTP server on the VIP serving DIR (the mounted file system).
BENCHWEB = f"""#!/bin/sh
pidfile=/run/benchweb.pid
case "$2" in
start)
    setsid python3 -m http.server --bind {VIP} --directory "$1" {PORT} \\
        </dev/null >/dev/null 2>&1 &
    echo $! > $pidfile
    echo "benchweb: started";;
stop)
    [ -f $pidfile ] && kill "$(cat $pidfile)" 2>/dev/null
    rm -f $pidfile
    echo "benchweb: stopped";;
status)
    if [ -f $pidfile ] && kill -0 "$(cat $pidfile)" 2>/dev/null; then echo "running"
    else echo "stopped"; exit 3; fi;;
*)  echo "usage: benchweb DIR start|stop|status"; exit 1;;
esac
exit 0
"""

METHOD = f"""
Three test-cluster nodes (network namespaces on one bridge): `alpha` (preferred
owner), `beta`, and `client`. Both heartbeats get the same `ha.cf` (`bcast eth0`,
`auto_failback on`, sha1 authkeys, the timers below) and the same haresources line:
`alpha {VIP} Filesystem::/dev/loopN::DIR::ext4 benchweb::DIR`, where /dev/loopN is
an ext4 "shared disk" both nodes see and `benchweb` starts an HTTP server on the VIP
serving DIR. The client pings the VIP every 10 ms and fetches a file from the
service every 20 ms from before the kill, so its ARP cache points at alpha as a real
client's would. Once the pair is stable, every process of alpha is killed with
SIGKILL and alpha's eth0 is taken down (a crashed machine); the clock starts at the
kill. Measured: (a) `dead`: beta's log says `node alpha: is dead`; (b) `vip`: the
first echo reply from the VIP to a request sent after the crash; `mounted`: the file
system appears in beta's mount table; (c) `svc`: the first HTTP GET, started after
the crash, that returns the file. `overhead` is svc - dead: the takeover work itself.
A fresh cluster for each run; the real heartbeat and ours alternate (ABBA).
"""


def one_run(ctx, flavour, timers) -> dict:
    c = ctx.cluster("alpha", "beta", "client")
    try:
        alpha, beta, client = c["alpha"], c["beta"], c["client"]
        disk = alpha.loop_device("64M")
        data = c.root / "data"
        data.mkdir()
        subprocess.run(["mkfs.ext4", "-q", "-F", disk], check=True, capture_output=True,
                       timeout=60)
        alpha.run(f"mount {disk} {data} && echo {PAYLOAD} > {data}/probe.txt && umount {data}")
        for n in (alpha, beta):
            n.write_file("/etc/ha.d/resource.d/benchweb", BENCHWEB, mode=0o755)
        hbpair.configure((alpha, beta), flavour, timers,
                         f"alpha {VIP} Filesystem::{disk}::{data}::ext4 benchweb::{data}\n")
        hbpair.start((alpha, beta), flavour)
        gofile = c.root / "go"
        watcher = client.spawn([sys.executable, WATCH, VIP, PORT, "/probe.txt", PAYLOAD,
                                gofile, 600])
        hbpair.wait_stable(alpha, beta, flavour, 60,
                           extra=lambda: "ready" in watcher.output().split())
        return crash_and_watch(alpha, beta, watcher, gofile, str(data),
                               limit=hbpair_seconds(timers.deadtime) + 30)
    finally:
        for n in c:
            n.kill()
        c.teardown()


def hbpair_seconds(text: str) -> float:
    return float(text[:-2]) / 1000 if text.endswith("ms") else float(text)


def crash_and_watch(alpha, beta, watcher, gofile, mountpoint, limit) -> dict:
    dead_log = hbpair.LogWatch(beta)
    mounts = f"/proc/{beta.holder_pid}/mounts"
    t0 = time.monotonic()
    alpha.kill()
    subprocess.run(["ip", "-n", alpha.netns, "link", "set", "eth0", "down"], check=True,
                   timeout=10)
    gofile.touch()
    events = {}
    while len(events) < len(EVENTS):
        now = time.monotonic()
        if now - t0 > limit:
            missing = [e for e in EVENTS if e not in events]
            raise RuntimeError(f"no {'/'.join(missing)} within {limit:.0f} s "
                               f"(got {events}); beta: {hbpair.log_tail(beta)}")
        if "dead" not in events and dead_log.find(hbpair.DEAD_LINE):
            events["dead"] = now - t0
        if "mounted" not in events:
            with open(mounts) as f:
                if f" {mountpoint} " in f.read():
                    events["mounted"] = now - t0
        for line in watcher.output().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] in ("vip", "svc") and parts[0] not in events:
                events[parts[0]] = float(parts[1]) - t0
        time.sleep(0.005)
    return events


def run(ctx, section) -> None:
    section.method = METHOD
    flavours = [REAL, OURS]
    why_not = {OURS.name: hbpair.ours_missing()}
    if why_not[OURS.name]:
        flavours = [REAL]
    all_timers = [K1D5, FAST]
    rows = []
    for i, timers in enumerate(all_timers):
        budget = Budget(ctx.budget.left() / (len(all_timers) - i))
        ctx.log(f"-- {timers.label}")
        out = interleave({f.name: (lambda _r, f=f: one_run(ctx, f, timers)) for f in flavours},
                         ctx.runs(5, 1), budget, log=ctx.log)
        why = {f.name: out.why_not(f.name) for f in flavours}
        why.update({k: v for k, v in why_not.items() if v})
        record(section, timers, out.samples, why)
        for f in flavours:
            for err in out.errors[f.name]:
                section.notes.append(f"{f.label}, {timers.label}: a run failed: {err}")
        for f in (REAL, OURS):
            rows.append(timeline_row(f, timers, out.samples.get(f.name, []), why.get(f.name, "")))
    name = "failover_timeline.png"
    plot.timeline(ctx.outdir / name, "Failover: kill -9 of the owner -> service back "
                  "(median; whisker: min-max)", ["peer declares dead", "VIP answers",
                                                "fs mounted", "file served"], rows)
    section.plots.append(name)


LABELS = {
    "dead": "kill -9 -> peer declares it dead",
    "vip": "kill -9 -> VIP answers ping from client",
    "mounted": "kill -9 -> file system mounted on peer",
    "svc": "kill -9 -> file served through the VIP",
    "overhead": "dead -> file served (takeover work)",
}


def record(section, timers, samples: dict, why: dict) -> None:
    for event, label in LABELS.items():
        fig = section.figure(f"failover.{timers.name}.{event}", f"{label} ({timers.label})", "s",
                             ref_label="heartbeat 3.0.6")
        if event == "vip":
            fig.target = Target("ratio_max", 1.0)
        for flavour, values in samples.items():
            got = [(r["svc"] - r["dead"]) if event == "overhead" else r[event] for r in values]
            if flavour == REAL.name:
                fig.reference = got
            else:
                fig.ours = got
        fig.why_not_ours = "" if fig.ours else why.get(OURS.name, "")
        fig.why_not_ref = "" if fig.reference else why.get(REAL.name, "")


def timeline_row(flavour, timers, runs: list, why: str) -> tuple:
    label = f"{flavour.label}, {timers.label}"
    if not runs:
        return (label, [None] * 4, None, f"not measured: {why}"[:60])
    medians, last, durations = {}, 0.0, []
    for event in EVENTS:
        medians[event] = summarize(r[event] for r in runs).median
        point = max(last, medians[event])
        durations.append(point - last)
        last = point
    svc = summarize(r["svc"] for r in runs)
    return (label, durations, (svc.min, svc.max), "")

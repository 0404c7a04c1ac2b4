"""Failover: kill -9 of the owner's software, until the peer declares it dead, the
VIP answers a client's ping, the file system is mounted and a file is served through
the VIP.  The real heartbeat 3.0.6 and ours, same ha.cf/haresources, interleaved."""
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import drbdpair, hbpair, plot
from .hbpair import FAST, K1D5, OURS, REAL, REAL_OUR_DRBD, VIP
from .repeat import Budget, interleave
from .stats import summarize
from .figures import Target

TITLE = "Failover (heartbeat)"
BUDGET, BUDGET_QUICK = 900, 200
WATCH = Path(__file__).with_name("watch_failover.py")
PAYLOAD = "bench-payload-42"
PORT = 8080
EVENTS = ("dead", "vip", "mounted", "svc")
# DRBD's own failure detection for the DRBD stack: a ping every second, 0.2 s to answer.
DRBD_NET = "ping-int 1; ping-timeout 2; connect-int 1; timeout 5;"

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
Timers: `keepalive 1`/`deadtime 5`, and the issue's fast set `keepalive 100ms`/`deadtime
400ms` (3.0.6 refuses only `deadtime` <= 2 x `keepalive`, so it would take shorter ones).
A fresh cluster for each run; the real heartbeat and ours alternate (ABBA). Each
heartbeat runs with the resource scripts it comes with: the real one with those of
Debian's heartbeat/resource-agents packages, ours with the project's resource.d (as
`make install` puts them in /etc/ha.d/resource.d).

DRBD stack: the classic haresources line `alpha {VIP} drbddisk::r0
Filesystem::/dev/drbd1::DIR::ext4 benchweb::DIR` over our DRBD (protocol C, `net {{ {DRBD_NET} }}`),
under the real heartbeat (with our drbdadm first on PATH and our drbddisk, since
drbd-utils' calls /sbin/drbdadm, the kernel's) and under ours. `primary`: beta's
/proc/drbd text shows it Primary.
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


def one_run_drbd(ctx, flavour, timers) -> dict:
    """The classic stack: VIP, drbddisk (our DRBD), Filesystem on /dev/drbd1, service."""
    c = ctx.cluster("alpha", "beta", "client")
    try:
        alpha, beta, client = c["alpha"], c["beta"], c["client"]
        data = c.root / "data"
        data.mkdir()
        drbdpair.setup(c, [drbdpair.Res("r0", 1, "C", 7789, net=DRBD_NET)], "64M")
        alpha.run(f"mkfs.ext4 -q -F /dev/drbd1 && mount /dev/drbd1 {data} && "
                  f"echo {PAYLOAD} > {data}/probe.txt && umount {data}", timeout=120)
        refused = drbdpair.make_secondary(alpha, "r0")
        if refused:
            ctx.log(f"  (set-up: {refused}; alpha's engine restarted to leave it Secondary)")
        for n in (alpha, beta):
            n.write_file("/etc/ha.d/resource.d/benchweb", BENCHWEB, mode=0o755)
            hbpair.install_scripts(n, ["drbddisk"])
            use_our_drbdadm(n)
        hbpair.configure((alpha, beta), flavour, timers,
                         f"alpha {VIP} drbddisk::r0 Filesystem::/dev/drbd1::{data}::ext4 "
                         f"benchweb::{data}\n")
        hbpair.start((alpha, beta), flavour)
        gofile = c.root / "go"
        watcher = client.spawn([sys.executable, WATCH, VIP, PORT, "/probe.txt", PAYLOAD,
                                gofile, 600])
        hbpair.wait_stable(alpha, beta, flavour, 90,
                           extra=lambda: "ready" in watcher.output().split())

        def primary():
            return "st:Primary/" in beta.read_file("/run/drbd-py/proc-drbd", missing_ok=True)
        events = crash_and_watch(alpha, beta, watcher, gofile, str(data),
                                 limit=hbpair_seconds(timers.deadtime) + 40,
                                 extra={"primary": primary})
        events["setup_note"] = refused
        return events
    finally:
        for n in c:
            n.kill()
        c.teardown()


def use_our_drbdadm(node) -> None:
    """The real heartbeat's shellfuncs put /usr/sbin (drbd-utils' drbdadm) first on PATH;
    drbddisk reads DRBDADM from /etc/default/drbd, so the node gets its own /etc/default
    naming ours, as an admin would set it."""
    private = node.root / "etc-default"
    shutil.copytree("/etc/default", private, symlinks=True, dirs_exist_ok=True)
    (private / "drbd").write_text(f"DRBDADM={Path(sys.executable).parent / 'drbdadm'}\n")
    node.bind(private, "/etc/default")


def hbpair_seconds(text: str) -> float:
    return float(text[:-2]) / 1000 if text.endswith("ms") else float(text)


def crash_and_watch(alpha, beta, watcher, gofile, mountpoint, limit, extra=None) -> dict:
    """Crash alpha, then the time of each event after the kill; `extra` adds
    {event: condition()} polled with the others."""
    extra = extra or {}
    wanted = list(EVENTS) + list(extra)
    dead_log = hbpair.LogWatch(beta)
    mounts = f"/proc/{beta.holder_pid}/mounts"
    t0 = time.monotonic()
    alpha.kill()
    subprocess.run(["ip", "-n", alpha.netns, "link", "set", "eth0", "down"], check=True,
                   timeout=10)
    gofile.touch()
    events = {}
    while len(events) < len(wanted):
        now = time.monotonic()
        if now - t0 > limit:
            missing = [e for e in wanted if e not in events]
            raise RuntimeError(f"no {'/'.join(missing)} within {limit:.0f} s "
                               f"(got {events}); beta: {hbpair.log_tail(beta)}")
        if "dead" not in events and dead_log.find(hbpair.DEAD_LINE):
            events["dead"] = now - t0
        for name, cond in extra.items():
            if name not in events and cond():
                events[name] = now - t0
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
        record(section, timers.name, timers.label, out.samples, why, "heartbeat 3.0.6",
               LABELS, {"vip": Target("ratio_max", 1.0)})
        for f in flavours:
            for err in out.errors[f.name]:
                section.notes.append(f"{f.label}, {timers.label}: a run failed: {err}")
        for f in (REAL, OURS):
            rows.append(timeline_row(f, timers, out.samples.get(f.name, []), why.get(f.name, "")))
    rows += drbd_variant(ctx, section)
    explain_misses(section)
    name = "failover_timeline.png"
    plot.timeline(ctx.outdir / name, "Failover: kill -9 of the owner -> service back "
                  "(median; whisker: min-max)", ["peer declares dead", "VIP answers",
                                                "DRBD Primary", "fs mounted", "file served"],
                  rows)
    section.plots.append(name)


def drbd_variant(ctx, section) -> list:
    """The full stack with our DRBD under both heartbeats, the fast timers."""
    timers = FAST
    flavours = [REAL_OUR_DRBD, OURS]
    why = {f.name: drbdpair.engine_missing() for f in flavours}
    if not why[OURS.name]:
        why[OURS.name] = hbpair.ours_missing()
    runnable = [f for f in flavours if not why[f.name]]
    ctx.log(f"-- DRBD stack, {timers.label}")
    out = interleave({f.name: (lambda _r, f=f: one_run_drbd(ctx, f, timers)) for f in runnable},
                     ctx.runs(5, 1), Budget(ctx.budget.left()), log=ctx.log)
    refusals = {r.get("setup_note") for rs in out.samples.values() for r in rs} - {"", None}
    for text in sorted(refusals):
        section.notes.append(f"DRBD stack set-up: `drbdadm secondary` on alpha after mkfs was "
                             f"refused ({text}); alpha's engine was killed and brought up "
                             f"again instead, which leaves it Secondary")
    for f in runnable:
        why[f.name] = out.why_not(f.name)
        for err in out.errors[f.name]:
            section.notes.append(f"{f.label} + our DRBD: a run failed: {err}")
    record(section, f"drbd.{timers.name}", f"DRBD stack, {timers.label}", out.samples, why,
           "heartbeat 3.0.6 + our DRBD",
           dict(LABELS, primary="kill -9 -> DRBD Primary on peer"),
           {"vip": Target("ratio_max", 1.0), "svc": Target("abs_max", 1.0)})
    return [timeline_row(f, timers, out.samples.get(f.name, []), why.get(f.name, ""),
                         suffix=" + our DRBD") for f in flavours]


LABELS = {
    "dead": "kill -9 -> peer declares it dead",
    "vip": "kill -9 -> VIP answers ping from client",
    "mounted": "kill -9 -> file system mounted on peer",
    "svc": "kill -9 -> file served through the VIP",
    "overhead": "dead -> file served (takeover work)",
}


def record(section, tag: str, suffix: str, samples: dict, why: dict, ref_label: str,
           labels: dict, targets: dict) -> None:
    """Figures failover.TAG.EVENT from the runs of each heartbeat."""
    for event, label in labels.items():
        fig = section.figure(f"failover.{tag}.{event}", f"{label} ({suffix})", "s",
                             ref_label=ref_label, target=targets.get(event))
        for flavour, values in samples.items():
            got = [(r["svc"] - r["dead"]) if event == "overhead" else r[event] for r in values]
            if flavour == REAL.name:
                fig.reference = got
            else:
                fig.ours = got
        fig.why_not_ours = "" if fig.ours else why.get(OURS.name, "")
        fig.why_not_ref = "" if fig.reference else why.get(REAL.name, "")


def explain_misses(section) -> None:
    """A missed failover target: the phases side by side say where the time goes."""
    for f in section.figures:
        v = f.verdict()
        if v is None or v[0]:
            continue
        tag = f.key.rsplit(".", 1)[0]
        lines = ["| phase (time after kill -9) | ours | reference | ours - reference |",
                 "|---|---|---|---|"]
        for g in section.figures:
            if g.key.rsplit(".", 1)[0] != tag:
                continue
            o, r = g.summary()
            diff = f"{o.median - r.median:+.3f} s" if o and r else "-"
            lines.append(f"| {g.label} | {o.median if o else float('nan'):.3f} s | "
                         f"{r.median if r else float('nan'):.3f} s | {diff} |")
        section.profiles.append(f"**Where the time goes: {f.label}** (target missed: {v[1]}); "
                                f"medians of each phase:\n\n" + "\n".join(lines))


TIMELINE = ("dead", "vip", "primary", "mounted", "svc")


def timeline_row(flavour, timers, runs: list, why: str, suffix: str = "") -> tuple:
    label = f"{flavour.label}{suffix}, {timers.label}"
    if not runs:
        return (label, [None] * len(TIMELINE), None, f"not measured: {why}"[:60])
    medians, last, durations = {}, 0.0, []
    for event in TIMELINE:
        if event not in runs[0]:
            durations.append(None)
            continue
        medians[event] = summarize(r[event] for r in runs).median
        point = max(last, medians[event])
        durations.append(point - last)
        last = point
    svc = summarize(r["svc"] for r in runs)
    return (label, durations, (svc.min, svc.max), "")

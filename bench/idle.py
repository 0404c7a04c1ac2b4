"""Idle cost: CPU and RSS of the heartbeat and DRBD daemons doing nothing but keepalives,
ours and the real heartbeat 3.0.6 measured over the same windows."""
import os
import statistics
import time

import psutil

from . import drbdpair, hbpair, profile
from .figures import Target
from .hbpair import K1D5, OURS, REAL, VIP
from .repeat import one_line

TITLE = "Idle cost"
BUDGET, BUDGET_QUICK = 240, 90

METHOD = f"""
Two heartbeat pairs run side by side, each in its own test cluster: the real heartbeat
3.0.6 and ours, with the same ha.cf (`keepalive 1`, `deadtime 5`, `bcast eth0`) and one
resource (`alpha {VIP}`). Our pair also runs our DRBD engine with one resource,
connected and UpToDate, alpha Primary with /dev/drbd1 (nbdfuse + loop) in place. Once
both pairs are stable, CPU time (all threads of all processes of the daemon, from
/proc/PID/task/*/schedstat, in ns) and RSS
(sum over its processes) are read every window; each window is one run. Both pairs are
measured over the very same windows. CPU % is of one core.
"""


def daemon_pids(node, kind: str) -> list[int]:
    if kind == "heartbeat":
        return node.pids("heartbeat")
    text = node.read_file("/run/drbd-py/engine.pid", missing_ok=True).split()
    return [int(text[0])] if text else []


def schedstat(pid: int) -> tuple[float, int]:
    """(CPU seconds, times scheduled in) of all threads of `pid`, from schedstat: to the
    nanosecond, where ticks would be too coarse for a daemon using a few ms a minute."""
    ns = runs = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                fields = f.read().split()
            ns, runs = ns + int(fields[0]), runs + int(fields[2])
    except (OSError, ValueError, IndexError):
        pass
    return ns / 1e9, runs


def usage(pids) -> tuple[float, float, int]:
    """(CPU seconds, RSS MiB, wake-ups) summed over `pids`."""
    cpu = rss = 0.0
    wakeups = 0
    for pid in pids:
        secs, runs = schedstat(pid)
        cpu, wakeups = cpu + secs, wakeups + runs
        try:
            rss += psutil.Process(pid).memory_info().rss / (1 << 20)
        except psutil.Error:
            pass
    return cpu, rss, wakeups


def start_pair(ctx, flavour):
    c = ctx.cluster("alpha", "beta")
    a, b = c["alpha"], c["beta"]
    hbpair.configure((a, b), flavour, K1D5, f"alpha {VIP}\n")
    hbpair.start((a, b), flavour)
    return c


def run(ctx, section) -> None:
    section.method = METHOD
    why = {}
    clusters = {REAL.name: start_pair(ctx, REAL)}
    why_ours = hbpair.ours_missing()
    if not why_ours:
        try:
            clusters[OURS.name] = start_pair(ctx, OURS)
        except Exception as exc:
            why_ours = one_line(exc)
    why_drbd = drbdpair.engine_missing() or why_ours
    if not why_drbd:
        try:
            drbdpair.setup(clusters[OURS.name], [drbdpair.Res("r0", 1, "C", 7789)], "128M")
        except Exception as exc:
            why_drbd = f"DRBD set-up failed: {one_line(exc)}"
    for name, c in list(clusters.items()):
        flavour = REAL if name == REAL.name else OURS
        try:
            hbpair.wait_stable(c["alpha"], c["beta"], flavour, 60)
        except Exception as exc:
            del clusters[name]
            if name == OURS.name:
                why_ours = why_drbd = one_line(exc)
            else:
                why[name] = one_line(exc)
    # What to watch: (figure family, node, contender) -> pids
    watched = {}
    for node in ("alpha", "beta"):
        if REAL.name in clusters:
            watched[("hb", node, "ref")] = daemon_pids(clusters[REAL.name][node], "heartbeat")
        if OURS.name in clusters:
            watched[("hb", node, "ours")] = daemon_pids(clusters[OURS.name][node], "heartbeat")
            if not why_drbd:
                watched[("drbd", node, "ours")] = daemon_pids(clusters[OURS.name][node], "drbd")
    window, count = ctx.pick(10.0, 3.0), ctx.runs(6, 3)
    cpu, rss = {k: [] for k in watched}, {k: [] for k in watched}
    wakeups = {k: [] for k in watched}
    last = {k: usage(p) for k, p in watched.items()}
    t_last = time.monotonic()
    for _ in range(count):
        time.sleep(window)          # the measurement window itself, not a wait for a state
        now = time.monotonic()
        for k, pids in watched.items():
            u = usage(pids)
            cpu[k].append((u[0] - last[k][0]) / (now - t_last) * 100)
            rss[k].append(u[1])
            wakeups[k].append((u[2] - last[k][2]) / (now - t_last))
            last[k] = u
        t_last = now
    for node in ("alpha", "beta"):
        role = "owner" if node == "alpha" else "standby"
        for fam, label in (("hb", "heartbeat"), ("drbd", "DRBD engine")):
            for metric, unit, values, bound in (("cpu", "% CPU", cpu, 2.0), ("rss", "MiB", rss, 1.2)):
                f = section.figure(f"idle.{fam}.{metric}.{node}",
                                   f"idle {'CPU' if metric == 'cpu' else 'RSS'}: our {label}, "
                                   f"{node} ({role}) vs real heartbeat", unit,
                                   ref_label="heartbeat 3.0.6", target=Target("ratio_max", bound))
                f.ours = values.get((fam, node, "ours"), [])
                f.reference = values.get(("hb", node, "ref"), [])
                f.why_not_ours = "" if f.ours else (why_drbd if fam == "drbd" else why_ours)
                f.why_not_ref = "" if f.reference else why.get(REAL.name, "")
    for (fam, node, who), values in wakeups.items():
        section.notes.append(f"{'real heartbeat' if who == 'ref' else 'our ' + ('heartbeat' if fam == 'hb' else 'DRBD engine')}"
                             f" on {node}: woken {statistics.median(values):.1f} times a second "
                             f"(median of the windows)")
    describe_processes(section, clusters)
    profile_misses(ctx, section, clusters, wakeups)


def describe_processes(section, clusters) -> None:
    for name, c in clusters.items():
        for node in ("alpha", "beta"):
            procs = []
            for kind in ("heartbeat", "drbd"):
                for pid in daemon_pids(c[node], kind) if (kind == "heartbeat" or name == "ours") else []:
                    try:
                        rss = psutil.Process(pid).memory_info().rss / (1 << 20)
                    except psutil.Error:
                        continue
                    procs.append(f"{profile.describe(pid)} {rss:.1f} MiB")
            section.notes.append(f"{'real heartbeat' if name == 'ref' else 'ours'}, {node}: "
                                 + ("; ".join(procs) or "no daemon processes"))


def memory_split(pid: int) -> str:
    """RSS of `pid` split into anonymous memory (the heap: Python objects) and
    file-backed pages (the interpreter, shared libraries, .pyc files)."""
    fields = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                name, _, rest = line.partition(":")
                if rest.strip().endswith("kB"):
                    fields[name] = int(rest.split()[0]) / 1024
    except OSError:
        return "smaps_rollup not readable"
    rss, anon = fields.get("Rss", 0), fields.get("Anonymous", 0)
    return (f"RSS {rss:.1f} MiB = anonymous {anon:.1f} MiB (heap, Python objects) + "
            f"file-backed {rss - anon:.1f} MiB (interpreter, libraries, modules); "
            f"PSS {fields.get('Pss', 0):.1f} MiB")


def profile_misses(ctx, section, clusters, wakeups) -> None:
    if OURS.name not in clusters:
        return
    c = clusters[OURS.name]
    for f in section.figures:
        v = f.verdict()
        if v is None or v[0]:
            continue
        fam, metric, node = f.key.split(".")[1:4]
        pids = daemon_pids(c[node], "heartbeat" if fam == "hb" else "drbd")
        if not pids:
            continue
        if metric == "rss":
            section.profiles.append(f"**Where the memory goes: {f.label}** (target missed: "
                                    f"{v[1]})\n\n" + "; ".join(memory_split(p) for p in pids))
            continue
        secs = ctx.pick(20, 3)
        sampler = profile.Sampler({f"our {fam} daemon on {node}": pids[0]}, secs, rate=1000)
        text = sampler.finish()
        ours_w = statistics.median(wakeups.get((fam, node, "ours")) or [0])
        ref_w = statistics.median(wakeups.get(("hb", node, "ref")) or [0])
        section.profiles.append(f"**Where the time goes: {f.label}** (target missed: {v[1]})"
                                f"\n\nIdle CPU is mostly the cost of waking up: ours is "
                                f"scheduled {ours_w:.1f} times a second, the real heartbeat's "
                                f"processes {ref_w:.1f} times. What it does when awake "
                                f"(py-spy, {secs} s at 1000 Hz):\n\n{text}")

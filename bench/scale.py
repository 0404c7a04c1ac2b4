"""Scale: takeover time with 1, 10 and 50 resource groups (ours and the real heartbeat);
the DRBD engine's idle CPU and memory with 1, 4 and 16 resources connected at once."""
import statistics
import subprocess
import time

from . import drbdpair, hbpair, profile
from .figures import Target
from .hbpair import FAST, OURS, REAL
from .idle import usage
from .repeat import Budget, interleave, one_line

TITLE = "Scale"
BUDGET, BUDGET_QUICK = 600, 200
GROUPS = [1, 10, 50]
DRBD_COUNTS = [1, 4, 16]

METHOD = f"""
Takeover: the pair of the failover benchmark with `{FAST.label}` and N resource groups in
haresources, each one address (`alpha 192.0.2.100`, `alpha 192.0.2.101`, ...). Once alpha
holds them all, every process of alpha is killed (SIGKILL) and its eth0 taken down; the
time is until every address is on beta's eth0 (polled with `ip` every 10 ms). The real
heartbeat 3.0.6 and ours alternate (ABBA), a fresh cluster per run.
DRBD: N resources (protocol C, 16 MiB each) up and in sync at once between two nodes,
alpha Primary of all (N /dev/drbdN devices); the engine's CPU (schedstat) and RSS over
idle windows on each node. The reference is the same engine with one resource.
"""


def addresses(n: int) -> list[str]:
    return [f"192.0.2.{100 + i}" for i in range(n)]


def eth0_addresses(node) -> str:
    return subprocess.run(["ip", "-n", node.netns, "-o", "-4", "addr", "show", "dev", "eth0"],
                          capture_output=True, text=True, timeout=10).stdout


def forks_so_far() -> int:
    """Processes created on the whole machine since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("processes "):
                return int(line.split()[1])
    return 0


def takeover_run(ctx, flavour, n: int, profile_seconds: float = 0) -> dict:
    c = ctx.cluster("alpha", "beta")
    try:
        a, b = c["alpha"], c["beta"]
        vips = addresses(n)
        hbpair.configure((a, b), flavour, FAST, "".join(f"alpha {v}\n" for v in vips))
        hbpair.start((a, b), flavour)

        def all_on(node):
            text = eth0_addresses(node)
            return all(f" {v}/" in text for v in vips)
        hbpair.wait_stable(a, b, flavour, 120, extra=lambda: all_on(a))
        dead_log = hbpair.LogWatch(b)
        sampler = None
        if profile_seconds:
            sampler = profile.Sampler({f"{flavour.label} heartbeat on beta":
                                       b.pids("heartbeat")[0]}, profile_seconds)
        forks0 = forks_so_far()
        t0 = time.monotonic()
        a.kill()
        subprocess.run(["ip", "-n", a.netns, "link", "set", "eth0", "down"], check=True,
                       timeout=10)
        dead = None
        while True:
            now = time.monotonic()
            if dead is None and dead_log.find(hbpair.DEAD_LINE):
                dead = now - t0
            if all_on(b):
                break
            if now - t0 > 120:
                raise RuntimeError(f"{n} groups: not all taken over after 120 s; "
                                   f"{hbpair.log_tail(b)}")
            time.sleep(0.01)
        result = {"all_up": now - t0, "dead": dead if dead is not None else now - t0,
                  "forks": forks_so_far() - forks0}
        if sampler:
            result["profile"] = sampler.finish()
        return result
    finally:
        for node in c:
            node.kill()
        c.teardown()


def run(ctx, section) -> None:
    section.method = METHOD
    flavours = [REAL] + ([] if hbpair.ours_missing() else [OURS])
    for i, n in enumerate(GROUPS):
        budget = Budget(ctx.budget.left() * 0.6 / (len(GROUPS) - i))
        out = interleave({f.name: (lambda _r, f=f: takeover_run(ctx, f, n)) for f in flavours},
                         ctx.runs(3, 1), budget, log=ctx.log)
        for metric, label in (("all_up", "kill -9 -> all addresses up on the peer"),
                              ("work", "peer declares dead -> all addresses up")):
            f = section.figure(f"scale.takeover.{n}.{metric}",
                               f"takeover, {n} resource group{'s' if n > 1 else ''}: {label}", "s",
                               ref_label="heartbeat 3.0.6")
            pick = (lambda r: r["all_up"]) if metric == "all_up" else (lambda r: r["all_up"] - r["dead"])
            f.ours = [pick(r) for r in out.samples.get(OURS.name, [])]
            f.reference = [pick(r) for r in out.samples.get(REAL.name, [])]
            f.why_not_ours = "" if f.ours else (hbpair.ours_missing() or out.why_not(OURS.name))
            f.why_not_ref = "" if f.reference else out.why_not(REAL.name)
            if metric == "all_up":
                f.target = Target("ratio_max", 1.0)
        explain_miss(ctx, section, n, out.samples)
        for name, errs in out.errors.items():
            for err in errs:
                section.notes.append(f"{name}, {n} groups: a run failed: {err}")
    drbd_scale(ctx, section)


def explain_miss(ctx, section, n, samples) -> None:
    """Where the takeover time goes when ours is slower: processes started during the
    takeover by each heartbeat, and a py-spy of our daemon through one more takeover."""
    f = section.figure(f"scale.takeover.{n}.all_up", "", "s")
    v = f.verdict()
    if v is None or v[0]:
        return
    forks = {name: sorted(r["forks"] for r in rs)[len(rs) // 2] for name, rs in samples.items() if rs}
    secs = max(f.summary()[0].median, 2)
    try:
        extra = takeover_run(ctx, OURS, n, profile_seconds=secs)
        text = extra["profile"]
    except Exception as exc:
        text = f"profile not taken: {one_line(exc)}"
    section.profiles.append(
        f"**Where the time goes: {f.label}** (target missed: {v[1]})\n\n"
        f"Processes started on the machine during the takeover (median run): ours "
        f"{forks.get(OURS.name, '-')}, heartbeat 3.0.6 {forks.get(REAL.name, '-')} "
        f"(both run the same resource.d/IPaddr). Per group after the peer was declared dead: "
        f"ours {statistics.median(r['all_up'] - r['dead'] for r in samples[OURS.name]) / n:.3f} s, "
        f"heartbeat 3.0.6 "
        f"{statistics.median(r['all_up'] - r['dead'] for r in samples[REAL.name]) / n:.3f} s."
        f"\n\nOur daemon on beta during one more takeover:\n\n{text}")


def drbd_scale(ctx, section) -> None:
    why = drbdpair.engine_missing()
    cpu, rss = {}, {}
    for n in DRBD_COUNTS:
        if why:
            break
        c = ctx.cluster("alpha", "beta")
        try:
            drbdpair.setup(c, [drbdpair.Res(f"r{i}", i, "C", 7789 + i) for i in range(1, n + 1)],
                           "17M", sync_timeout=120)
            pids = {node: [int(c[node].read_file("/run/drbd-py/engine.pid").split()[0])]
                    for node in ("alpha", "beta")}
            window, count = ctx.pick(5.0, 2.0), ctx.runs(4, 2)
            last = {k: usage(p) for k, p in pids.items()}
            t_last = time.monotonic()
            for _ in range(count):
                time.sleep(window)          # a measurement window, not a wait for a state
                now = time.monotonic()
                for k, p in pids.items():
                    u = usage(p)
                    cpu.setdefault((n, k), []).append((u[0] - last[k][0]) / (now - t_last) * 100)
                    rss.setdefault((n, k), []).append(u[1])
                    last[k] = u
                t_last = now
        except Exception as exc:
            why = f"{n} resources: {one_line(exc)}"
        finally:
            try:
                drbdpair.down(c)
            finally:
                c.teardown()
    for n in DRBD_COUNTS:
        for node in ("alpha", "beta"):
            for metric, unit, values in (("cpu", "% CPU", cpu), ("rss", "MiB", rss)):
                f = section.figure(f"scale.drbd.{n}.{metric}.{node}",
                                   f"DRBD engine idle {'CPU' if metric == 'cpu' else 'RSS'}, "
                                   f"{n} resource{'s' if n > 1 else ''}, {node} "
                                   f"({'Primary' if node == 'alpha' else 'Secondary'})", unit,
                                   ref_label="1 resource")
                f.ours = values.get((n, node), [])
                f.reference = values.get((1, node), [])
                f.why_not_ours = "" if f.ours else why
                f.why_not_ref = "" if f.reference else why

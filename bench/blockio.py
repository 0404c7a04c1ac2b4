"""Writes through block devices: our chains against nbdkit's and the kernel's."""
import json
import sys
from pathlib import Path

from . import chains as ch, drbdchains, plot, profile
from .figures import Target
from .fio import JOBS, SEQ_SIZES, argv, parse
from .repeat import one_line, order
from .stats import summarize

TITLE = "Block I/O (replicated writes)"
NETPROBE = Path(__file__).with_name("netprobe.py")
BUDGET, BUDGET_QUICK = 900, 150
KEY_JOBS = ["seq1M", "rand4k_qd1", "rand4k_qd32"]
REFERENCES = ["nbdkit", "loop"]

METHOD = """
fio (libaio, O_DIRECT on the device) inside a test node, for each chain in turn:
sequential writes at 4k...1M (iodepth 1), 4 KiB random writes at iodepth 1 and 32.
Chains: **kernel loop on a file** (the kernel alone, `losetup` on a plain file);
**nbdkit file chain** (`nbdkit file` -> `nbdfuse` -> `losetup --direct-io=on`: the
reference); **ours: NBD server + file** (our NBD server and FileBackend behind our
device layer, `python -m drbd_py.device.standalone`, no replication: where the Python
NBD path stands); **DRBD protocol A/B/C** (our engine on both nodes of a two-node
test cluster, Primary's /dev/drbdN). All backing files are written in full first and
sit on the same file system; both NBD chains and the loop use the page cache of the
backing file (as nbdkit's file plugin does by default). Rounds interleave the chains
(ABBA); each cell is the median over rounds. Latencies are fio's completion latency
percentiles. DRBD's backing disks are loop devices on files of the same file system;
both nodes of the pair live on this one machine, so the Secondary's writes go to the
same disk and both engines, nbdfuse and fio share its 2 cores: replication costs more
here than between two machines.
"""


def chains_for(ctx, c) -> list:
    node = c["alpha"]
    size = ctx.pick(512, 256) << 20
    made = []
    for cls, args in ((ch.KernelLoop, ()), (ch.FuseChain, ("nbdkit",)), (ch.OursFile, ())):
        image = ch.preallocated(c.root / f"{cls.__name__}.img", size)
        made.append(cls(node, image, *args))
    return made


def run(ctx, section) -> None:
    section.method = METHOD
    c = ctx.cluster("alpha", "beta")
    node = c["alpha"]
    chains = chains_for(ctx, c)
    drbd, why = drbdchains.make(ctx, c, ctx.pick("600M", "300M"))
    chains += drbd
    devices = {}
    for chain in chains:
        try:
            devices[chain.name] = chain.setup()
            ctx.log(f"  {chain.label}: {devices[chain.name]}")
        except Exception as exc:
            why[chain.name] = one_line(exc)
            ctx.log(f"  {chain.label}: {why[chain.name]}")
    wire_baseline(ctx, section, c)
    labels = {chain.name: chain.label for chain in chains}
    labels.update(drbdchains.LABELS)
    results = {}            # (job, chain) -> [Result]
    seconds = ctx.pick(3, 1)
    try:
        for rnd in range(ctx.runs(3, 1)):
            if rnd > 0 and ctx.budget.exhausted():
                section.notes.append(f"time budget spent after {rnd} round(s)")
                break
            for job in JOBS:
                for name in order([n for n in devices if n not in why], rnd):
                    try:
                        out = node.run(argv(job, devices[name], seconds, "256M"),
                                       timeout=seconds + 120)
                        results.setdefault((job.name, name), []).append(parse(out.stdout))
                    except Exception as exc:
                        why[name] = f"fio {job.name}: {one_line(exc)}"
                        ctx.log(f"  {name}: {why[name]}")
            ctx.log(f"  round {rnd + 1} done")
        record(section, results, labels, why)
        plots(ctx, section, results, labels, why)
        profile_misses(ctx, section, c, devices, seconds)
    finally:
        for chain in reversed(chains):
            try:
                chain.teardown()
            except Exception as exc:
                section.notes.append(f"{chain.label}: teardown: {one_line(exc)}")


def wire_baseline(ctx, section, c) -> None:
    """What one Python TCP stream gets between the two nodes (the DRBD link's ceiling)."""
    try:
        server = c["beta"].spawn([sys.executable, NETPROBE, "serve", "7700"])
        out = c["alpha"].run([sys.executable, NETPROBE, "send", c["beta"].ip, "7700"], timeout=120)
        got = json.loads(out.stdout)
        server.wait(10)
        section.notes.append(f"the wire between the nodes (veth pair over a bridge), one Python "
                             f"TCP stream: {got['bytes_per_s'] / (1 << 30):.2f} GiB/s, one-byte "
                             f"round trip {got['rtt_us']:.0f} us")
    except Exception as exc:
        section.notes.append(f"wire baseline not measured: {one_line(exc)}")


def profile_misses(ctx, section, c, devices, seconds) -> None:
    """For each missed target: run that job once more on that chain while py-spy
    samples both engines, and say where the CPU went."""
    jobs = {j.name: j for j in JOBS}
    for f in section.figures:
        verdict = f.verdict()
        if verdict is None or verdict[0]:
            continue
        jname, chain = f.key.split(".")[1:3]
        pids = {}
        for n in (c["alpha"], c["beta"]):
            text = n.read_file("/run/drbd-py/engine.pid", missing_ok=True).split()
            if text:
                pids[f"{n.name}'s engine ({'Primary' if n.name == 'alpha' else 'Secondary'})"] = int(text[0])
        secs = max(seconds, 3)

        def load():
            c["alpha"].run(argv(jobs[jname], devices[chain], secs, "256M"), timeout=secs + 120)
        ctx.log(f"  profiling {chain} {jname}")
        text = profile.profile_during(pids, secs, load, nodes=(c["alpha"], c["beta"]))
        section.profiles.append(f"**Where the time goes: {f.label}** (target missed: "
                                f"{verdict[1]})\n\n{text}")


def metric(job_name: str) -> tuple[str, str]:
    return ("mb_s", "MB/s") if job_name.startswith("seq") else ("iops", "IOPS")


def values(results, job, chain, attr) -> list[float]:
    return [getattr(r, attr) for r in results.get((job, chain), [])]


def record(section, results, labels, why) -> None:
    jobs = {j.name: j for j in JOBS}
    ours = [n for n in labels if n not in REFERENCES]
    for jname in KEY_JOBS:
        attr, unit = metric(jname)
        for name in ours:
            f = section.figure(f"blockio.{jname}.{name}.{attr}",
                               f"{jobs[jname].label}: {labels[name]}", unit,
                               ref_label="nbdkit chain", better="higher")
            f.ours, f.reference = values(results, jname, name, attr), values(results, jname, "nbdkit", attr)
            f.why_not_ours, f.why_not_ref = why.get(name, ""), why.get("nbdkit", "")
            if name == "drbd_C":
                f.target = Target("ratio_min", 0.7)
        f = section.figure(f"blockio.{jname}.nbdkit_vs_loop.{attr}",
                           f"{jobs[jname].label}: reference check, nbdkit chain (in the ours column) vs kernel loop", unit,
                           ref_label="kernel loop", better="higher")
        f.ours, f.reference = values(results, jname, "nbdkit", attr), values(results, jname, "loop", attr)
        f.why_not_ours, f.why_not_ref = why.get("nbdkit", ""), why.get("loop", "")
    for jname in ("rand4k_qd1", "rand4k_qd32"):
        for name in [n for n in ours if n in ("ours_file", "drbd_C")]:
            for pct in ("p50_us", "p99_us"):
                f = section.figure(f"blockio.{jname}.{name}.{pct}",
                                   f"{jobs[jname].label}: {labels[name]}, {pct[:-3]} latency",
                                   "us", ref_label="nbdkit chain")
                f.ours, f.reference = values(results, jname, name, pct), values(results, jname, "nbdkit", pct)
                f.why_not_ours, f.why_not_ref = why.get(name, ""), why.get("nbdkit", "")
    # Every chain and job, for the reader who wants the whole picture.
    lines = ["| chain | job | MB/s | IOPS | p50 us | p99 us | p99.9 us | runs |",
             "|---|---|---|---|---|---|---|---|"]
    for name in labels:
        if name in why and not any(results.get((j.name, name)) for j in JOBS):
            lines.append(f"| {labels[name]} | - | not measured: {why[name]} | | | | | |")
            continue
        for j in JOBS:
            rs = results.get((j.name, name), [])
            if not rs:
                continue
            med = {a: summarize(getattr(r, a) for r in rs).median
                   for a in ("mb_s", "iops", "p50_us", "p99_us", "p999_us")}
            lines.append(f"| {labels[name]} | {j.label} | {med['mb_s']:.0f} | {med['iops']:.0f} "
                         f"| {med['p50_us']:.0f} | {med['p99_us']:.0f} | {med['p999_us']:.0f} "
                         f"| {len(rs)} |")
    section.profiles.append("Medians of every chain and job:\n\n" + "\n".join(lines))


def plots(ctx, section, results, labels, why) -> None:
    names = [n for n in labels if any(results.get((j.name, n)) for j in JOBS) or n in why]
    series = []
    for n in names:
        meds, spreads = [], []
        for bs in SEQ_SIZES:
            s = summarize(values(results, f"seq{bs}", n, "mb_s"))
            meds.append(s.median if s else None)
            spreads.append((s.min, s.max) if s else None)
        series.append((labels[n], meds, spreads))
    name = "throughput_by_block_size.png"
    plot.grouped_bars(ctx.outdir / name, "Sequential O_DIRECT writes by block size "
                      "(median; whisker: min-max)", [bs for bs in SEQ_SIZES], series, "MB/s")
    section.plots.append(name)
    series = []
    for n in names:
        meds, spreads = [], []
        for jname in ("rand4k_qd1", "rand4k_qd32"):
            s = summarize(values(results, jname, n, "iops"))
            meds.append(s.median if s else None)
            spreads.append((s.min, s.max) if s else None)
        series.append((labels[n], meds, spreads))
    name = "iops_random_4k.png"
    plot.grouped_bars(ctx.outdir / name, "4 KiB random writes (IOPS; median, min-max)",
                      ["iodepth 1", "iodepth 32"], series, "IOPS")
    section.plots.append(name)

"""Resync after a disconnect: time and bytes on the wire for 1 %, 10 % and 100 % of the
device changed while apart, against a full sync (invalidate-remote) of the same device."""
import re
import subprocess
import time

from . import drbdpair
from .figures import Target
from .repeat import Budget, interleave, one_line

TITLE = "Resync (DRBD)"
BUDGET, BUDGET_QUICK = 420, 120
RATE = "100M"
RATE_BYTES = 100 << 20          # DRBD's M is MiB: rate 100M = 100 MiB/s
CASES = ["1pct", "10pct", "100pct", "full"]
SKIP = {"1pct": "99M", "10pct": "9M", "100pct": ""}   # fio rw=write:HOLE per 1 MiB written
CASE_LABELS = {"1pct": "1 % changed while disconnected", "10pct": "10 % changed while disconnected",
               "100pct": "100 % changed while disconnected",
               "full": "full sync (invalidate-remote)"}
SYNCING = re.compile(r"cs:(SyncSource|SyncTarget|WFBitMap\w*|WFSyncUUID|PausedSync\w)")

METHOD = f"""
Our DRBD engine on a two-node test cluster, one resource (protocol C, `syncer {{ rate
{RATE}; }}`) on a 1 GiB loop device per node, alpha Primary. For each case: `drbdadm
disconnect` on alpha, fio writes 1 MiB O_DIRECT blocks through alpha's /dev/drbd1 to
cover the share of the device named (evenly spread: one MiB in every 100 for 1 %, in
every 10 for 10 %, all of it for 100 %), then `drbdadm connect`. Time: from the first
sync state (SyncSource/SyncTarget/WFBitMap) in either node's /proc/drbd text
(/run/drbd-py/proc-drbd, polled every 5 ms) to both showing Connected UpToDate/UpToDate.
Bytes: what alpha's eth0 sent from the connect to the end (data, bitmap exchange and
protocol). Full sync: `drbdadm invalidate-remote` while connected, timed the same way.
Achieved rate = bytes resynced / time, against the configured rate (100 MiB/s).
"""


def proc_drbd(node) -> str:
    return node.read_file("/run/drbd-py/proc-drbd", missing_ok=True)


def tx_bytes(node) -> int:
    out = subprocess.run(["ip", "-n", node.netns, "-s", "-j", "link", "show", "eth0"],
                         capture_output=True, text=True, check=True, timeout=10).stdout
    import json
    return json.loads(out)[0]["stats64"]["tx"]["bytes"]


def in_sync(text: str) -> bool:
    return "cs:Connected" in text and "ds:UpToDate/UpToDate" in text


def wait_text(node, pred, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not pred(proc_drbd(node)):
        if time.monotonic() > end:
            raise RuntimeError(f"{node.name}: {what} not reached in {timeout:.0f} s: "
                               f"{proc_drbd(node).strip()[-200:]}")
        time.sleep(0.01)


def one_case(c, case: str, size_mib: int) -> dict:
    a, b = c["alpha"], c["beta"]
    wait_text(a, in_sync, 120, "in sync before the case")
    if case != "full":
        drbdpair.drbdadm(a, "disconnect r0")
        wait_text(a, lambda t: "cs:StandAlone" in t, 30, "StandAlone")
        rw = f"write:{SKIP[case]}" if SKIP[case] else "write"
        a.run(["fio", "--name", "change", "--filename", "/dev/drbd1", "--rw", rw, "--bs", "1M",
               "--direct", "1", "--ioengine", "psync", "--size", f"{size_mib}M"], timeout=300)
    tx0 = tx_bytes(a)
    t_cmd = time.monotonic()
    drbdpair.drbdadm(a, "invalidate-remote r0" if case == "full" else "connect r0")
    started = None
    end = t_cmd + 600
    while True:
        now = time.monotonic()
        ta, tb = proc_drbd(a), proc_drbd(b)
        if started is None and (SYNCING.search(ta) or SYNCING.search(tb)):
            started = now
        if started is not None and in_sync(ta) and in_sync(tb):
            break
        if now > end:
            raise RuntimeError(f"{case}: not in sync after 600 s: {ta.strip()[-200:]}")
        time.sleep(0.005)
    seconds = now - started
    sent = tx_bytes(a) - tx0
    synced = drbdpair.volume(b, "r0").get("last_sync_total", 0)
    return {"seconds": seconds, "wire_bytes": sent, "synced_bytes": synced,
            "with_command": now - t_cmd}


def run(ctx, section) -> None:
    section.method = METHOD
    why = drbdpair.engine_missing()
    samples = {case: [] for case in CASES}
    size_mib = ctx.pick(1024, 256)
    if not why:
        c = ctx.cluster("alpha", "beta")
        try:
            # + 1 MiB: room for the internal meta-data, so that the device is 1 GiB
            drbdpair.setup(c, [drbdpair.Res("r0", 1, "C", 7789, rate=RATE)],
                           f"{size_mib + 1}M", sync_timeout=300)
            data = drbdpair.volume(c["alpha"], "r0").get("size", 0)
            size_mib = min(size_mib, data >> 20)
            section.notes.append(f"device size {data / (1 << 20):.0f} MiB")
            out = interleave({case: (lambda _r, case=case: one_case(c, case, size_mib))
                              for case in CASES}, ctx.runs(3, 1),
                             Budget(ctx.budget.left()), log=ctx.log)
            samples = out.samples
            for case in CASES:
                for err in out.errors[case]:
                    section.notes.append(f"{CASE_LABELS[case]}: a run failed: {err}")
            why = "; ".join(out.why_not(k) for k in CASES if not samples[k])
        except Exception as exc:
            why = f"set-up failed: {one_line(exc)}"
        finally:
            drbdpair.down(c)
    record(section, samples, why)


def record(section, samples: dict, why: str) -> None:
    full = samples.get("full", [])
    for case in ("1pct", "10pct", "100pct"):
        got = samples.get(case, [])
        for metric, unit, key in (("time", "s", "seconds"), ("bytes", "MiB", "wire_bytes")):
            f = section.figure(f"resync.{case}.{metric}",
                               f"resync {metric} after {CASE_LABELS[case]}", unit,
                               ref_label="full sync")
            scale = 1 if key == "seconds" else 1 / (1 << 20)
            f.ours = [r[key] * scale for r in got]
            f.reference = [r[key] * scale for r in full]
            f.why_not_ours = "" if f.ours else why
            f.why_not_ref = "" if f.reference else why
            if case == "1pct":
                f.target = Target("ratio_max", 0.03)
    for case in ("100pct", "full"):
        f = section.figure(f"resync.{case}.rate", f"achieved resync rate, {CASE_LABELS[case]}",
                           "MiB/s", target=Target("within", 0.10, RATE_BYTES / (1 << 20)),
                           better="higher")
        f.ours = [r["synced_bytes"] / r["seconds"] / (1 << 20) for r in samples.get(case, [])
                  if r["seconds"] > 0]
        f.reference, f.ref_label = [RATE_BYTES / (1 << 20)], f"configured rate {RATE}"
        f.why_not_ours = "" if f.ours else why
    for case in CASES:
        rs = samples.get(case, [])
        if rs:
            med = sorted(rs, key=lambda r: r["seconds"])[len(rs) // 2]
            section.notes.append(
                f"{CASE_LABELS[case]} (median run): {med['synced_bytes'] / (1 << 20):.1f} MiB "
                f"resynced, {med['wire_bytes'] / (1 << 20):.1f} MiB on the wire, "
                f"{med['seconds']:.2f} s in sync states, {med['with_command']:.2f} s from "
                f"the drbdadm command")

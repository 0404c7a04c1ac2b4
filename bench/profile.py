"""Where a daemon's time goes while a benchmark loads it: py-spy samples the live
process (no restart, no overhead in the daemon), we summarise the stacks."""
import collections
import os
import shutil
import subprocess
import sys
import tempfile


def py_spy() -> str | None:
    here = os.path.join(os.path.dirname(sys.executable), "py-spy")
    return here if os.path.exists(here) else shutil.which("py-spy")


def record(pid: int, seconds: float, rate: int = 250) -> tuple[dict, str]:
    """({collapsed stack: samples}, error).  Idle (waiting) frames are left out."""
    tool = py_spy()
    if not tool:
        return {}, "py-spy is not installed (make bench installs it: pip install '.[bench]')"
    with tempfile.NamedTemporaryFile(suffix=".txt") as out:
        proc = subprocess.run([tool, "record", "--pid", str(pid), "--duration", f"{seconds:g}",
                               "--rate", str(rate), "--format", "raw", "--nonblocking",
                               "--output", out.name], capture_output=True, text=True,
                              timeout=seconds + 60)
        if proc.returncode != 0:
            return {}, f"py-spy: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}"
        stacks = {}
        with open(out.name) as f:
            for line in f:
                stack, _, count = line.rstrip("\n").rpartition(" ")
                if stack and count.isdigit():
                    stacks[stack] = stacks.get(stack, 0) + int(count)
    return stacks, ""


def frame_name(frame: str) -> str:
    """`func (path/to/file.py:123)` -> `func (file.py)`: lines differ between samples."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = path.split("/")
    short = "/".join(parts[-2:]) if len(parts) > 1 else path
    return f"{name} ({short})"


WAITING = ("EpollSelector.select", "select (selectors", "_run_once (asyncio")


def summarise(stacks: dict, top: int = 8) -> str:
    """Markdown: one line naming where most busy samples were, then the functions most
    samples were in (self) and under (total)."""
    total = sum(stacks.values())
    if not total:
        return "no samples (the process was idle or gone)"
    own = collections.Counter()
    under = collections.Counter()
    for stack, count in stacks.items():
        frames = [frame_name(f) for f in stack.split(";") if f and not f.startswith("process ")
                  and not f.startswith("thread ")]
        if not frames:
            continue
        own[frames[-1]] += count
        for f in set(frames):
            under[f] += count
    busy = [(f, n) for f, n in own.most_common() if not f.startswith(WAITING)]
    headline = ", ".join(f"`{f.split(' (')[0]}` {100 * n / total:.0f} %" for f, n in busy[:3])
    waiting = sum(n for f, n in own.items() if f.startswith(WAITING))
    lines = [f"{total} samples; in the event loop's wait {100 * waiting / total:.0f} %; "
             f"most self time in {headline or '-'}.", "", f"Self time (top {top}):", "",
             "| function | self % | total % |", "|---|---|---|"]
    for f, n in own.most_common(top):
        lines.append(f"| `{f}` | {100 * n / total:.1f} | {100 * under[f] / total:.1f} |")
    lines += ["", f"Inclusive time (top {top}, without the event loop's own frames):", "",
              "| function | total % |", "|---|---|"]
    shown = 0
    for f, n in under.most_common():
        if any(k in f for k in ("run_forever", "_run_once", "<module>", "run (asyncio",
                                "run_until_complete", "main (", "_run (asyncio/events")):
            continue
        lines.append(f"| `{f}` | {100 * n / total:.1f} |")
        shown += 1
        if shown >= top:
            break
    return "\n".join(lines)


def cpu_times(pids) -> dict[int, float]:
    """CPU seconds (user + system) used so far by each pid that still exists."""
    import psutil
    out = {}
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            out[pid] = t.user + t.system
        except psutil.Error:
            pass
    return out


def describe(pid: int) -> str:
    import psutil
    try:
        p = psutil.Process(pid)
        argv = p.cmdline()
    except psutil.Error:
        return str(pid)
    words = [os.path.basename(a) for a in argv[:4]]
    return " ".join(words) or p.name()


class Sampler:
    """py-spy on some pids in the background: start now, finish() for the summary."""

    def __init__(self, targets: dict[str, int], seconds: float, rate: int = 250):
        import threading
        self.results, self.seconds, self.rate = {}, seconds, rate
        self.threads = [threading.Thread(target=self._one, args=item) for item in targets.items()]
        for t in self.threads:
            t.start()

    def _one(self, label, pid):
        self.results[label] = record(pid, self.seconds, self.rate)

    def finish(self) -> str:
        for t in self.threads:
            t.join(self.seconds + 90)
        return "\n\n".join(f"py-spy of {label}: " + (f"not taken: {err}" if err
                                                       else "\n\n" + summarise(stacks))
                            for label, (stacks, err) in self.results.items())


def profile_during(targets: dict[str, int], seconds: float, load, nodes=()) -> str:
    """Markdown: CPU use of every process of `nodes` while `load()` runs, then a
    py-spy summary of each of `targets` ({label: pid}) sampled meanwhile."""
    import time
    pids = {p.pid: f"{n.name}: " for n in nodes for p in n.processes()}
    before, t0 = cpu_times(pids), time.monotonic()
    sampler = Sampler(targets, seconds)
    try:
        load()
    finally:
        after, wall = cpu_times(pids), time.monotonic() - t0
        sampled = sampler.finish()
    parts = []
    if pids:
        use = sorted(((after[p] - before[p]) / wall * 100, p) for p in after if p in before)
        lines = [f"CPU used during the {wall:.1f} s run, % of one core (2 cores in all):", "",
                 "| process | CPU % |", "|---|---|"]
        for pct, pid in reversed(use[-8:]):
            if pct >= 0.5:
                lines.append(f"| {pids[pid]}{describe(pid)} | {pct:.0f} |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts + [sampled])

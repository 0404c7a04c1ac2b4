"""What the demo shows while it runs: a view redrawn in place on a terminal (both nodes'
role, cs/ds, VIP, mount, resync bar; the steps so far; the latest events), or plain
lines when stdout is not a terminal.  Either way a timeline at the end."""
from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass

from tests.e2e.classic import MOUNT, NodeView, Periodic, Watch

BAR = 24
EVENTS_SHOWN = 10
# connection states that only flash by on the way to another: noise in a timeline
TRANSIENT_CS = {"Unconnected", "WFReportParams", "WFBitMapS", "WFBitMapT", "WFSyncUUID"}


@dataclass
class Step:
    at: float
    text: str
    result: bool = False             # a finding of the step rather than a new step


def progress_bar(percent: float | None, width: int = BAR) -> str:
    if percent is None:
        return ""
    done = int(width * min(max(percent, 0.0), 100.0) / 100)
    head = ">" if done < width else ""
    return f"[{'=' * done}{head}{'.' * (width - done - len(head))}] {percent:5.1f}%"


def worth_a_line(what: str) -> bool:
    """Events kept in the timeline and plain output: not ds churn nor transient cs."""
    if what.startswith("ds "):
        return False
    return not (what.startswith("cs ") and what[3:] in TRANSIENT_CS)


class View:
    """Base: keeps the steps; subclasses show them. `watch` gives events and views."""

    def __init__(self, watch: Watch, out):
        self.watch, self.out = watch, out
        self.steps: list[Step] = []
        self._lock = threading.Lock()
        self._ticker = Periodic(self.refresh, self.period, "view")

    def start(self):
        self._ticker.start()
        return self

    def close(self):
        self._ticker.stop()
        self.finish()

    def step(self, text: str):
        with self._lock:
            self.steps.append(Step(self.watch.now(), text))

    def result(self, text: str):
        with self._lock:
            self.steps.append(Step(self.watch.now(), text, result=True))

    period = 0.1

    def refresh(self):
        raise NotImplementedError

    def finish(self):
        pass

    def timeline(self) -> list[str]:
        """Steps, findings and events in time order, seconds since start."""
        rows = [(s.at, 0 if not s.result else 1,
                 f"{'  -> ' if s.result else '== '}{s.text}") for s in self.steps]
        rows += [(e.at, 2, f"     {e.node}: {e.what}") for e in self.watch.events
                 if worth_a_line(e.what)]
        return [f"{at:7.1f}s {text}" for at, _, text in sorted(rows, key=lambda r: r[:2])]


class PlainView(View):
    """One line per step, finding and event as they come; resync progress every second."""
    period = 0.2

    def __init__(self, watch, out):
        super().__init__(watch, out)
        self._steps_shown = self._events_shown = 0
        self._progress_at = 0.0

    def refresh(self):
        with self._lock:
            lines = []
            for s in self.steps[self._steps_shown:]:
                lines.append((s.at, f"{'  -> ' if s.result else '== '}{s.text}"))
            self._steps_shown = len(self.steps)
        events = self.watch.events[self._events_shown:]
        self._events_shown += len(events)
        lines += [(e.at, f"     {e.node}: {e.what}") for e in events if worth_a_line(e.what)]
        if time.monotonic() - self._progress_at >= 1.0:
            for name, view in sorted(self.watch.views.items()):
                if view.drbd.synced is not None:
                    self._progress_at = time.monotonic()
                    lines.append((self.watch.now(),
                                  f"     {name}: resync {progress_bar(view.drbd.synced)}"))
        for at, text in sorted(lines, key=lambda x: x[0]):
            self.out.write(f"[{at:6.1f}s] {text}\n")
        self.out.flush()

    def finish(self):
        self.refresh()


class LiveView(View):
    """The screen redrawn in place (alternate screen, ANSI), ten times a second."""
    GREEN, YELLOW, RED, DIM, BOLD, RESET = ("\x1b[32m", "\x1b[33m", "\x1b[31m", "\x1b[2m",
                                            "\x1b[1m", "\x1b[0m")

    def start(self):
        self.out.write("\x1b[?1049h\x1b[?25l")      # alternate screen, cursor hidden
        self.out.flush()
        return super().start()

    def finish(self):
        self.out.write("\x1b[?25h\x1b[?1049l")      # back to the normal screen
        self.out.flush()

    def paint(self, text: str, color: str) -> str:
        return f"{color}{text}{self.RESET}"

    def node_row(self, name: str, v: NodeView) -> list[str]:
        if not v.up:
            return [f" {name:<11} {self.paint('down (rebooting)', self.RED)}"]
        role = f"{v.drbd.role:<12}"
        role = self.paint(role, self.GREEN + self.BOLD) if v.drbd.role == "Primary" else role
        cs = f"{v.drbd.cs:<14}"
        if v.drbd.cs == "Connected":
            cs = self.paint(cs, self.GREEN)
        elif v.drbd.cs.startswith("Sync"):
            cs = self.paint(cs, self.YELLOW)
        elif v.drbd.cs != "Unconfigured":
            cs = self.paint(cs, self.RED)
        vip = self.paint("yes", self.GREEN) if v.vip else self.paint(" - ", self.DIM)
        mnt = self.paint("mounted", self.GREEN) if v.mounted else self.paint("   -   ", self.DIM)
        rows = [f" {name:<11} {role} {cs} {v.drbd.ds:<24} {vip}   {mnt}"]
        if v.drbd.synced is not None:
            rows.append(f" {'':<11} resync {self.paint(progress_bar(v.drbd.synced), self.YELLOW)}")
        return rows

    def refresh(self):
        width, height = shutil.get_terminal_size((100, 30))
        rule = self.DIM + "-" * min(width, 100) + self.RESET
        lines = [f" {self.BOLD}heartbeat-drbd-py demo{self.RESET}: the classic two-node "
                 f"cluster {self.DIM}(+{self.watch.now():.1f}s){self.RESET}", rule,
                 f" {'node':<11} {'role':<12} {'cs':<14} {'ds':<24} VIP   {MOUNT}"]
        for name, view in sorted(self.watch.views.items()):
            lines += self.node_row(name, view)
        lines.append(rule)
        with self._lock:
            steps = list(self.steps)
        room = max(4, height - len(lines) - EVENTS_SHOWN - 3)
        for s in steps[-room:]:
            text = (f"   -> {s.text}" if s.result else f" == {s.text}")[:width - 10]
            if s is steps[-1] and not s.result:
                text = self.paint(text, self.BOLD)
            lines.append(f" {self.DIM}{s.at:6.1f}s{self.RESET}{text}")
        lines.append(rule)
        events = [e for e in self.watch.events if worth_a_line(e.what)][-EVENTS_SHOWN:]
        lines += [f" {self.DIM}{e.at:6.1f}s{self.RESET}    {e.node}: {e.what}" for e in events]
        frame = "\x1b[H" + "".join(f"{line}\x1b[K\n" for line in lines[:height - 1]) + "\x1b[J"
        self.out.write(frame)
        self.out.flush()

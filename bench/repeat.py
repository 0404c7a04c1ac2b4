"""Repeating measurements on a noisy machine: time budgets, and ours and the
reference interleaved (A B B A A B ...) so that slow drift of the machine
weighs on both alike."""
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Budget:
    """Seconds a benchmark may take; checked between runs, never mid-run."""
    seconds: float
    start: float = field(default_factory=time.monotonic)

    def spent(self) -> float:
        return time.monotonic() - self.start

    def left(self) -> float:
        return self.seconds - self.spent()

    def exhausted(self) -> bool:
        return self.left() <= 0


@dataclass
class Outcome:
    """Samples of each contender, and the errors that cost runs."""
    samples: dict[str, list] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def why_not(self, name: str) -> str:
        """'' when `name` has samples, else why it has none (its last error)."""
        if self.samples.get(name):
            return ""
        errs = self.errors.get(name)
        return errs[-1] if errs else "not run (time budget spent)"


def order(names: list[str], round_no: int) -> list[str]:
    """Contenders in ABBA order: forwards on even rounds, backwards on odd ones."""
    return list(names) if round_no % 2 == 0 else list(reversed(names))


def one_line(exc: BaseException) -> str:
    """The exception in one line; a failed command (CommandFailed) with its last line
    of stderr, which says why."""
    text = str(exc).strip().splitlines()
    line = f"{type(exc).__name__}: {text[0] if text else ''}"
    err = [x for x in (getattr(exc, "stderr", None) or "").strip().splitlines() if x.strip()]
    if err:
        line += f" ({err[-1].strip()})"
    return line[:300]


def interleave(contenders: dict[str, Callable[[int], object]], runs: int, budget: Budget,
               max_errors: int = 2, log=print) -> Outcome:
    """Call each contender runs times, interleaved, as long as the budget lasts
    (every contender gets at least its first run).  A contender that raised
    `max_errors` times is given up.  A contender returning None measured nothing
    that run (it is not an error and not a sample)."""
    out = Outcome({n: [] for n in contenders}, {n: [] for n in contenders})
    for round_no in range(runs):
        if round_no > 0 and budget.exhausted():
            log(f"  budget spent after {round_no} round(s)")
            break
        for name in order(list(contenders), round_no):
            if len(out.errors[name]) >= max_errors:
                continue
            try:
                value = contenders[name](round_no)
            except KeyboardInterrupt:
                raise
            except Exception as exc:        # a benchmark measures; it never fails the run
                out.errors[name].append(one_line(exc))
                log(f"  {name} run {round_no + 1}: {one_line(exc)}")
                log("    " + traceback.format_exc().strip().replace("\n", "\n    ")[-1500:])
                continue
            if value is not None:
                out.samples[name].append(value)
                log(f"  {name} run {round_no + 1}: {value}")
    return out

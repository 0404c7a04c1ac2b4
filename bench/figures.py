"""What a benchmark reports: figures (ours against a reference) and the targets they meet.

A figure keeps its raw samples, so results can be stored as JSON, merged across
partial runs (BENCH_ONLY) and summarised again.
"""
from dataclasses import asdict, dataclass, field

from .stats import Summary, ratio, summarize


@dataclass
class Target:
    """What the issue asks of a figure.

    kind: "ratio_max" (ours/ref <= value), "ratio_min" (ours/ref >= value),
    "abs_max" (ours <= value, in the figure's unit), "within" (ours within
    `value` (a fraction) of `around`).
    """
    kind: str
    value: float
    around: float | None = None

    def describe(self, unit: str) -> str:
        if self.kind == "ratio_max":
            return f"<= {self.value:g} x ref"
        if self.kind == "ratio_min":
            return f">= {self.value:g} x ref"
        if self.kind == "abs_max":
            return f"< {self.value:g} {unit}"
        if self.kind == "within":
            return f"{self.around:g} {unit} +/- {self.value * 100:g} %"
        raise ValueError(f"unknown target kind {self.kind}")

    def judge(self, ours: Summary | None, reference: Summary | None) -> tuple[bool, str] | None:
        """(met, how far) by medians, or None when the figures needed are missing."""
        if ours is None:
            return None
        if self.kind in ("ratio_max", "ratio_min"):
            r = ratio(ours, reference)
            if r is None:
                return None
            if self.kind == "ratio_max":
                return r <= self.value, f"{r:.2f} x ref ({(r / self.value - 1) * 100:+.0f} % of the bound)"
            return r >= self.value, f"{r:.2f} x ref ({(r / self.value - 1) * 100:+.0f} % of the bound)"
        if self.kind == "abs_max":
            return ours.median <= self.value, f"{ours.median:.3g} ({(ours.median / self.value - 1) * 100:+.0f} % of the bound)"
        if self.kind == "within":
            off = ours.median / self.around - 1
            return abs(off) <= self.value, f"{off * 100:+.1f} % off"
        raise ValueError(f"unknown target kind {self.kind}")


@dataclass
class Figure:
    """One row of the results table."""
    key: str                    # unique, e.g. "failover.k1d5.vip"
    label: str                  # what a reader sees
    unit: str                   # "s", "MB/s", "IOPS", "ms", "% CPU", "MiB"
    ours: list[float] = field(default_factory=list)
    reference: list[float] = field(default_factory=list)
    ref_label: str = ""         # what the reference is, e.g. "heartbeat 3.0.6"
    better: str = "lower"       # or "higher": how to read the ratio
    target: Target | None = None
    why_not_ours: str = ""      # "not measured: why" when ours is missing
    why_not_ref: str = ""

    def summary(self) -> tuple[Summary | None, Summary | None]:
        return summarize(self.ours), summarize(self.reference)

    def ratio(self) -> float | None:
        return ratio(*self.summary())

    def verdict(self) -> tuple[bool, str] | None:
        return self.target.judge(*self.summary()) if self.target else None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Figure":
        data = dict(data)
        if data.get("target"):
            data["target"] = Target(**data["target"])
        return cls(**data)


@dataclass
class Section:
    """Everything one benchmark produced: its figures, a note on the method, plots,
    profiles of missed targets, and when and how long it ran."""
    name: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    method: str = ""
    notes: list[str] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)          # file names in bench/
    profiles: list[str] = field(default_factory=list)       # markdown snippets
    taken: str = ""                                         # UTC time it ran
    seconds: float = 0.0
    quick: bool = False

    def figure(self, key: str, label: str, unit: str, **kw) -> Figure:
        """The figure `key`, made on first use."""
        for f in self.figures:
            if f.key == key:
                return f
        f = Figure(key, label, unit, **kw)
        self.figures.append(f)
        return f

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Section":
        data = dict(data)
        data["figures"] = [Figure.from_json(f) for f in data.get("figures", [])]
        return cls(**data)

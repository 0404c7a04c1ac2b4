"""Summaries of repeated measurements: medians and ranges, never means (noisy machines)."""
import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    runs: int
    min: float
    median: float
    max: float


def summarize(values) -> Summary | None:
    """Summary of the measured values; None when nothing was measured."""
    values = [float(v) for v in values if v is not None]
    if not values:
        return None
    return Summary(len(values), min(values), statistics.median(values), max(values))


def ratio(ours: Summary | None, reference: Summary | None) -> float | None:
    """ours / reference, by medians; None when either is missing or the reference is 0."""
    if ours is None or reference is None or reference.median == 0:
        return None
    return ours.median / reference.median


def percentile(values, pct: float) -> float:
    """The pct-th percentile (0-100) by linear interpolation between closest ranks."""
    data = sorted(values)
    if not data:
        raise ValueError("no values")
    pos = (len(data) - 1) * pct / 100.0
    low = int(pos)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (pos - low)

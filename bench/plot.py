"""The two kinds of plot results.md shows, drawn on bench.png's Canvas:
stacked horizontal bars (a failover timeline) and grouped vertical bars
(throughput by block size).  Medians as bars, min-max as whiskers."""
import math

from .png import Canvas

PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127)]
GRID = (225, 225, 225)
AXIS = (60, 60, 60)
MISSING = (150, 150, 150)


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least `top`."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    n = math.ceil(top / step - 1e-9)
    return [i * step for i in range(n + 1)]


def fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}".rstrip("0").rstrip(".")
    return f"{v:.2f}".rstrip("0").rstrip(".")


def legend_width(names: list[str]) -> int:
    return sum(40 + Canvas.text_width(n) for n in names)


def _legend(c: Canvas, x: int, y: int, names: list[str]) -> None:
    for i, name in enumerate(names):
        c.rect(x, y + 2, x + 14, y + 14, PALETTE[i % len(PALETTE)])
        x += 22 + c.text(x + 20, y + 2, name) + 18


def _wrap_legend(names: list[str], width: int) -> list[list[str]]:
    """Legend entries in lines no wider than `width` pixels."""
    lines, line, used = [], [], 0
    for name in names:
        need = 40 + Canvas.text_width(name)
        if line and used + need > width:
            lines.append(line)
            line, used = [], 0
        line.append(name)
        used += need
    return lines + ([line] if line else [])


def timeline(path, title: str, phases: list[str], rows: list[tuple], unit: str = "s") -> None:
    """rows: (label, [duration of each phase, None if not reached], (min total, max total) or
    None, note).  Phases are stacked left to right from the kill at 0."""
    label_w = max([Canvas.text_width(r[0]) for r in rows] + [100]) + 20
    plot_w, bar_h, gap = 620, 26, 14
    width = max(label_w + plot_w + 140, legend_width(phases) + 40)
    height = 70 + len(rows) * (bar_h + gap) + 70
    c = Canvas(width, height)
    c.text(width // 2, 10, title, anchor="center")
    totals = [sum(d for d in r[1] if d) + 0 for r in rows]
    top = max([t for t in totals] + [r[2][1] for r in rows if r[2]] + [0.1])
    ticks = nice_ticks(top)
    scale = plot_w / ticks[-1]
    x0, y0 = label_w, 50
    y_end = y0 + len(rows) * (bar_h + gap)
    for t in ticks:
        x = x0 + t * scale
        c.vline(x, y0, y_end, GRID)
        c.text(x, y_end + 6, fmt(t), AXIS, anchor="center")
    c.text(x0 + plot_w // 2, y_end + 26, f"{unit} after kill -9", AXIS, anchor="center")
    for i, (label, durations, spread, note) in enumerate(rows):
        y = y0 + i * (bar_h + gap) + gap // 2
        c.text(x0 - 10, y + 6, label, anchor="right")
        x = x0
        for k, d in enumerate(durations):
            if d is None:
                continue
            c.rect(x, y, x + d * scale, y + bar_h, PALETTE[k % len(PALETTE)])
            x += d * scale
        if spread:
            lo, hi = x0 + spread[0] * scale, x0 + spread[1] * scale
            c.hline(lo, hi, y + bar_h // 2, AXIS, 2)
            c.vline(lo, y + 6, y + bar_h - 6, AXIS, 2)
            c.vline(hi, y + 6, y + bar_h - 6, AXIS, 2)
        text = note if note else f"{sum(d for d in durations if d):.2f} {unit}"
        c.text(max(x, x0 + (spread[1] * scale if spread else 0)) + 8, y + 6, text,
               MISSING if note else AXIS)
    c.vline(x0, y0, y_end, AXIS, 2)
    _legend(c, min(x0, width - legend_width(phases) - 10), height - 22, phases)
    c.save(path)


def grouped_bars(path, title: str, groups: list[str], series: list[tuple], ylabel: str) -> None:
    """series: (name, [median per group or None], [(min, max) per group or None])."""
    plot_h, left = 360, 90
    n = max(len(series), 1)
    bar_w = max(8, min(30, 560 // (len(groups) * n)))
    group_w = bar_w * n + 24
    names = [s[0] for s in series]
    width = max(left + len(groups) * group_w + 40, 760, Canvas.text_width(title) + 40)
    lines = _wrap_legend(names, width - left - 20)
    height = 70 + plot_h + 50 + 22 * len(lines)
    c = Canvas(width, height)
    c.text(width // 2, 10, title, anchor="center")
    top = max([hi for s in series for r in s[2] if r for hi in (r[1],)]
              + [v for s in series for v in s[1] if v] + [1.0])
    ticks = nice_ticks(top)
    scale = plot_h / ticks[-1]
    y_base = 70 + plot_h
    for t in ticks:
        y = y_base - t * scale
        c.hline(left, width - 20, y, GRID)
        c.text(left - 8, y - 7, fmt(t), AXIS, anchor="right")
    c.text(10, 40, ylabel, AXIS)
    for g, name in enumerate(groups):
        gx = left + 12 + g * group_w
        for k, (_sname, values, spreads) in enumerate(series):
            x = gx + k * bar_w
            v = values[g] if g < len(values) else None
            if v is None:
                c.text(x + bar_w // 2, y_base - 16, "-", MISSING, anchor="center")
                continue
            c.rect(x + 1, y_base - v * scale, x + bar_w - 2, y_base, PALETTE[k % len(PALETTE)])
            r = spreads[g] if g < len(spreads) else None
            if r:
                mid = x + bar_w // 2
                c.vline(mid, y_base - r[1] * scale, y_base - r[0] * scale, AXIS, 2)
                c.hline(mid - 3, mid + 3, y_base - r[1] * scale, AXIS, 2)
                c.hline(mid - 3, mid + 3, y_base - r[0] * scale, AXIS, 2)
        c.text(gx + (bar_w * n) // 2, y_base + 8, name, AXIS, anchor="center")
    c.hline(left, width - 20, y_base, AXIS, 2)
    k = 0
    for n, line in enumerate(lines):
        x, y = left, y_base + 36 + n * 22
        for name in line:
            c.rect(x, y + 2, x + 14, y + 14, PALETTE[k % len(PALETTE)])
            x += 22 + c.text(x + 20, y + 2, name) + 18
            k += 1
    c.save(path)

"""results.md from the stored sections: one table of every figure, the targets,
then each benchmark's method, plots, notes and profiles."""
from .figures import Figure, Section
from .stats import Summary


def num(v: float | None) -> str:
    """Three significant digits, no exponent for everyday sizes."""
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    if a == 0:
        return "0"
    return f"{v:.3g}"


def spread(s: Summary | None) -> str:
    return "-" if s is None else f"{num(s.min)} / {num(s.median)} / {num(s.max)}"


def short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[:limit - 3].rstrip() + "..."


def cell(s: Summary | None, unit: str, why: str) -> str:
    if s is None:
        return f"not measured: {short(why)}" if why else "-"
    return f"{num(s.median)} {unit}"


def _esc(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table_rows(figures: list[Figure]) -> list[str]:
    rows = ["| figure | ours | reference | ratio | runs | min / median / max (ours) "
            "| min / median / max (reference) | target |",
            "|---|---|---|---|---|---|---|---|"]
    for f in figures:
        ours, ref = f.summary()
        r = f.ratio()
        ref_text = cell(ref, f.unit, f.why_not_ref)
        if f.ref_label and ref is not None:
            ref_text += f" ({f.ref_label})"
        verdict = f.verdict()
        if f.target is None:
            target = ""
        else:
            target = f.target.describe(f.unit) + (
                "" if verdict is None else (": met" if verdict[0] else f": **missed**, {verdict[1]}"))
        runs = f"{ours.runs if ours else 0} / {ref.runs if ref else 0}"
        rows.append("| " + " | ".join(_esc(x) for x in (
            f.label, cell(ours, f.unit, f.why_not_ours), ref_text,
            "-" if r is None else f"{r:.2f}", runs, spread(ours), spread(ref), target)) + " |")
    return rows


def render(machine: dict, sections: list[Section], header_note: str = "") -> str:
    out = ["# Benchmark results", "",
           "Written by `make bench` (`python -m bench.run`); see docs/bench.md for what each "
           "benchmark does and how to rerun one (`BENCH_ONLY=name`, `BENCH_QUICK=1`).",
           "Ours and the reference run in the same session, interleaved; each cell is the "
           "median of the runs, the ranges are min / median / max. The ratio is ours / "
           "reference (by medians).", ""]
    if header_note:
        out += [header_note, ""]
    out += ["## Machine", ""]
    out += [f"- {k}: {v}" for k, v in machine.items()]
    out += [""]
    out += ["## Targets", ""]
    verdicts = [f.verdict() for s in sections for f in s.figures if f.target is not None]
    met = sum(1 for v in verdicts if v and v[0])
    missed = sum(1 for v in verdicts if v and not v[0])
    out += [f"{met} met, {missed} missed, {len(verdicts) - met - missed} not judged "
            f"(each by medians, against its reference measured in the same run).", ""]
    any_target = False
    for s in sections:
        for f in s.figures:
            if f.target is None:
                continue
            any_target = True
            v = f.verdict()
            if v is None:
                why = f.why_not_ours or f.why_not_ref or "figures missing"
                out.append(f"- {f.label}: {f.target.describe(f.unit)}: not judged ({why})")
            else:
                out.append(f"- {f.label}: {f.target.describe(f.unit)}: "
                           + ("met" if v[0] else "**missed**") + f" ({v[1]})")
    if not any_target:
        out.append("- none judged yet")
    out += [""]
    out += ["## All figures", ""]
    for s in sections:
        out += [f"### {s.title}", ""]
        stamp = f"taken {s.taken} UTC in {s.seconds:.0f} s" + (" (BENCH_QUICK: smoke run, "
                                                              "fewer and shorter runs)" if s.quick else "")
        out += [f"_{stamp}_", ""]
        if s.figures:
            out += table_rows(s.figures) + [""]
    for s in sections:
        out += [f"## {s.title}: method, plots, notes", ""]
        if s.method:
            out += [s.method.strip(), ""]
        for p in s.plots:
            out += [f"![{p}]({p})", ""]
        for n in s.notes:
            out += [f"- {n}"]
        if s.notes:
            out += [""]
        for prof in s.profiles:
            out += [prof.strip(), ""]
    return "\n".join(out).rstrip() + "\n"

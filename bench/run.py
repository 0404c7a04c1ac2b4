"""`make bench`: every benchmark on this machine, each against a reference measured
in the same run; writes bench/results.md, bench/results.json and PNG plots.

Environment: BENCH_QUICK=1 (a smoke run: one short run each), BENCH_ONLY=name[,name]
(only those; the other sections of results.json are kept as they were), BENCH_RENDER=1
(run nothing: write results.md again from results.json).
Benchmarks measure and never fail: the exit status is 0 unless the runner itself breaks.
"""
import importlib
import json
import os
import signal
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

from . import machine, report
from .context import Context, env_flag
from .figures import Section
from .repeat import Budget, one_line

# name -> module under bench/ (each has TITLE, BUDGET (s, full run), run(ctx, section)).
BENCHMARKS = ["failover", "blockio", "resync", "idle", "scale"]
OUTDIR = Path(__file__).resolve().parent
RESULTS_JSON = OUTDIR / "results.json"
RESULTS_MD = OUTDIR / "results.md"


def load_sections(path: Path) -> dict[str, Section]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {name: Section.from_json(s) for name, s in data.get("sections", {}).items()}


def save(sections: dict[str, Section], facts: dict) -> None:
    ordered = [sections[n] for n in BENCHMARKS if n in sections]
    RESULTS_JSON.write_text(json.dumps({"machine": facts, "sections":
                                        {s.name: s.to_json() for s in ordered}}, indent=1) + "\n")
    RESULTS_MD.write_text(report.render(facts, ordered))


def selected(only: str) -> list[str]:
    if not only.strip():
        return list(BENCHMARKS)
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise SystemExit(f"bench: unknown benchmark {', '.join(unknown)}; "
                         f"known: {', '.join(BENCHMARKS)}")
    return names


def run_one(name: str, quick: bool) -> Section:
    module = importlib.import_module(f"bench.{name}")
    section = Section(name=name, title=module.TITLE, quick=quick,
                      taken=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"))
    ctx = Context(quick=quick, outdir=OUTDIR,
                  budget=Budget(module.BUDGET_QUICK if quick else module.BUDGET))
    ctx.log(f"== {name}: {module.TITLE} (budget {ctx.budget.seconds:.0f} s)")
    load_before = os.getloadavg()[0]
    try:
        module.run(ctx, section)
    except KeyboardInterrupt:
        raise
    except Exception as exc:            # a broken benchmark is reported, the others still run
        section.notes.append(f"benchmark stopped early: {one_line(exc)}")
        ctx.log(traceback.format_exc())
    finally:
        try:
            ctx.close()
        except Exception as exc:
            section.notes.append(f"cleanup problem: {one_line(exc)}")
    section.seconds = ctx.budget.spent()
    # Other work on the machine (test runs of other people) shows here.
    section.notes.append(f"machine load (1-minute average) at the start and end of this "
                         f"benchmark: {load_before:.2f}, {os.getloadavg()[0]:.2f}")
    ctx.log(f"== {name} done in {section.seconds:.0f} s")
    return section


def main() -> int:
    if env_flag("BENCH_RENDER"):
        data = json.loads(RESULTS_JSON.read_text())
        save(load_sections(RESULTS_JSON), data.get("machine", {}))
        print(f"bench: {RESULTS_MD} written again from {RESULTS_JSON}")
        return 0
    if os.geteuid() != 0:
        print("bench: needs root (network namespaces, loop devices)", file=sys.stderr)
        return 1

    def interrupt(_sig, _frame):
        raise KeyboardInterrupt("SIGTERM")
    signal.signal(signal.SIGTERM, interrupt)
    quick = env_flag("BENCH_QUICK")
    names = selected(os.environ.get("BENCH_ONLY", ""))
    facts = machine.describe()
    sections = load_sections(RESULTS_JSON)
    start = time.monotonic()
    for name in names:
        sections[name] = run_one(name, quick)
        save(sections, facts)           # after each: a long run interrupted keeps what it has
    print(f"bench: {len(names)} benchmark(s) in {time.monotonic() - start:.0f} s; "
          f"results in {RESULTS_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

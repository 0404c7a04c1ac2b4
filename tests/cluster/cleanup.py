"""Remove leftovers of test runs that were killed before their teardown.

Usage: python -m tests.cluster.cleanup [PID...]
With no PID, only runs whose process is gone are swept; a live run is
never touched unless named.
"""
import sys

from .run import dead_runs, sweep, sweep_dead_runs


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        errors = [e for pid in argv for e in sweep(int(pid))]
    else:
        print("dead runs:", " ".join(map(str, dead_runs())) or "none")
        errors = sweep_dead_runs()
    for e in errors:
        print(f"cleanup: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

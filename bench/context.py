"""What a benchmark gets from the runner: quick or full, its time budget, a log,
where to put plots, and test-cluster nodes that are always torn down."""
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .repeat import Budget


@dataclass
class Context:
    quick: bool
    outdir: Path
    budget: Budget
    cluster_run: object = None          # tests.cluster.Run, made on first use
    started: float = field(default_factory=time.monotonic)

    def log(self, *parts) -> None:
        print(f"[{time.monotonic() - self.started:7.1f}s]", *parts, flush=True)

    def runs(self, full: int, quick: int = 1) -> int:
        return quick if self.quick else full

    def pick(self, full, quick):
        return quick if self.quick else full

    def cluster(self, *names, **options):
        """A test cluster (tests/cluster) torn down by close(); nodes 192.0.2.11 up."""
        if self.cluster_run is None:
            root = Path(__file__).resolve().parents[1]
            if str(root) not in sys.path:
                sys.path.insert(0, str(root))
            from tests.cluster import Run
            self.cluster_run = Run()
        return self.cluster_run.cluster(*names, **options)

    def close(self) -> None:
        if self.cluster_run is not None:
            run, self.cluster_run = self.cluster_run, None
            run.teardown_all()


def venv_python() -> str:
    """The project's Python (the one running us, when it is the venv's)."""
    return sys.executable


def project_root() -> Path:
    return Path(__file__).resolve().parents[1]


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip() not in ("", "0", "no", "false")

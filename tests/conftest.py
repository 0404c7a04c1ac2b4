"""Shared fixtures: the test cluster (tests/cluster/).

    def test_failover(cluster):
        c = cluster("alpha", "beta")          # nodes 192.0.2.11, .12
        c["alpha"].write_file("/etc/ha.d/ha.cf", HA_CF)
        ...

Every cluster a test makes is torn down after it, also when it fails; a
teardown that leaves something behind fails the test.  HBT_KEEP=1 keeps the
node folders of failed tests (their path is printed) for a post-mortem.
"""
import atexit
import os
import shutil
import signal

import pytest

from tests.cluster import ClusterError, Run
from tests.cluster.run import sweep_dead_runs

LOG_TAIL = 40


def _missing_prerequisites():
    if os.geteuid() != 0:
        return "the test cluster needs root"
    missing = [t for t in ("ip", "nsenter", "unshare", "nft", "losetup") if not shutil.which(t)]
    return f"missing tools: {' '.join(missing)}" if missing else None


def pytest_sessionstart(session):
    # SIGTERM (a CI timeout, kill) takes the same path as Ctrl-C, where
    # pytest still runs fixture teardown.
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        def interrupt(_sig, _frame):
            raise KeyboardInterrupt("SIGTERM")
        signal.signal(signal.SIGTERM, interrupt)


@pytest.fixture(scope="session")
def cluster_run():
    """The Run of this pytest process: names, and a last-resort cleanup."""
    reason = _missing_prerequisites()
    if reason:
        pytest.skip(reason)
    for error in sweep_dead_runs():
        print(f"cluster: leftovers of a killed run: {error}")
    run = Run()

    def last_resort():
        try:
            run.teardown_all()
        except ClusterError as exc:
            print(f"cluster: {exc}")
    atexit.register(last_resort)
    yield run
    atexit.unregister(last_resort)
    run.teardown_all()


@pytest.fixture
def cluster(cluster_run, request):
    """Factory: cluster("alpha", "beta", seed_etc=True) -> Cluster."""
    made = []
    request.node.hbt_clusters = made

    def make(*names, **options):
        c = cluster_run.cluster(*names, **options)
        made.append(c)
        return c
    yield make
    report = getattr(request.node, "hbt_call_report", None)
    keep = bool(os.environ.get("HBT_KEEP")) and report is not None and report.failed
    errors = []
    for c in made:
        try:
            c.teardown(keep_files=keep)
        except ClusterError as exc:
            errors.append(str(exc))
        if keep:
            print(f"cluster: kept {c.root}")
    if errors:
        pytest.fail("; ".join(errors), pytrace=False)


def _log_tails(clusters):
    """The end of every log file of every node: what a failed test's reader needs."""
    for c in clusters:
        for node in c:
            for folder in ("var/log", "logs"):
                base = node.root / folder
                for path in sorted(base.rglob("*")) if base.is_dir() else []:
                    if path.is_file() and path.stat().st_size:
                        with open(path, "rb") as f:
                            f.seek(max(0, path.stat().st_size - 64 * 1024))
                            lines = f.read().decode(errors="replace").splitlines()[-LOG_TAIL:]
                        yield f"{node.name}:{path.relative_to(node.root)}", "\n".join(lines)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.hbt_call_report = report
    clusters = getattr(item, "hbt_clusters", None)
    if report.failed and clusters and report.when == "call":
        for title, text in _log_tails(clusters):
            report.sections.append((f"log {title}", text))

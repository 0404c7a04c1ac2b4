"""The scenario's steps share one cluster (a module-scoped fixture) and run in order; once
a step fails, the later ones are skipped instead of failing for the same reason.
Figures a step measures (`e2e_report`) are printed at the end of the run."""
import pytest

from tests.cluster import ClusterError

FIGURES = pytest.StashKey[list]()


def pytest_configure(config):
    config.stash[FIGURES] = []
    config.addinivalue_line("markers", "steps: the module's tests are ordered steps of one story")


@pytest.fixture
def e2e_report(request):
    """report("what", "value"): one line in the run's summary."""
    def report(what, value):
        request.config.stash[FIGURES].append(f"{what}: {value}")
    return report


def pytest_terminal_summary(terminalreporter, config):
    figures = config.stash.get(FIGURES, [])
    if figures:
        terminalreporter.section("e2e figures")
        for line in figures:
            terminalreporter.write_line(line)


@pytest.fixture(scope="module")
def module_clusters(cluster_run):
    """Factory like `cluster`, but the clusters live until the module's last test."""
    made = []

    def make(*names, **options):
        c = cluster_run.cluster(*names, **options)
        made.append(c)
        return c
    yield make
    errors = []
    for c in made:
        try:
            c.teardown()
        except ClusterError as exc:
            errors.append(str(exc))
    if errors:
        pytest.fail("; ".join(errors), pytrace=False)


def pytest_runtest_makereport(item, call):
    if call.excinfo is not None and "steps" in item.keywords and call.when == "call":
        item.parent.stash[_FAILED] = item.name


_FAILED = pytest.StashKey[str]()


def pytest_runtest_setup(item):
    if "steps" in item.keywords:
        failed = item.parent.stash.get(_FAILED, None)
        if failed is not None:
            pytest.skip(f"an earlier step failed: {failed}")

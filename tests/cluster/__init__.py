"""The test cluster: real nodes on this machine, one namespace set each.

    from tests.cluster import Run, wait_until
    run = Run()
    c = run.cluster("alpha", "beta")
    c["alpha"].run("uname -n").stdout      # 'alpha\\n'
    c.partition("alpha", "beta"); c.heal()
    run.teardown_all()

Tests use the `cluster` fixture of tests/conftest.py instead.  See
docs/test-cluster.md.
"""
from .cluster import Cluster
from .node import CommandFailed, Node, Spawned
from .run import Run
from .shell import ClusterError
from .wait import WaitTimeout, wait_until

__all__ = ["Cluster", "ClusterError", "CommandFailed", "Node", "Run", "Spawned",
           "WaitTimeout", "wait_until"]

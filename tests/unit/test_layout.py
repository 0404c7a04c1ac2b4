"""The package layout that DESIGN.md names is importable."""
import importlib

import pytest


@pytest.mark.parametrize("name", ["heartbeat_py", "drbd_py"])
def test_packages_import(name):
    assert importlib.import_module(name).PY_VERSION

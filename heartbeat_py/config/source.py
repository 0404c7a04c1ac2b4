"""Reading a configuration file, its failure reported like any other configuration error."""
from __future__ import annotations

import os

from .errors import ConfigError, ConfigErrors


def read_file(path: str, what: str) -> tuple[bytes, int]:
    """(contents, st_mode) of a configuration file; a one-line ConfigErrors if unreadable."""
    try:
        with open(path, "rb") as f:
            return f.read(), os.fstat(f.fileno()).st_mode
    except OSError as e:
        raise ConfigErrors([ConfigError(str(path), None, f"cannot open {what}: {e.strerror}")]) from None

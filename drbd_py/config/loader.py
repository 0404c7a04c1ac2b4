"""Read a drbd.conf (with its includes) into the checked model."""
from __future__ import annotations

from .build import build
from .checks import check
from .model import Config
from .parser import parse_file, parse_text


def load_config(path: str) -> Config:
    """Raises ConfigMissing (exit 20) or ConfigError (exit 10)."""
    config = build(parse_file(path))
    check(config)
    return config


def load_text(text: str, path: str = "drbd.conf") -> Config:
    config = build(parse_text(text, path))
    check(config)
    return config

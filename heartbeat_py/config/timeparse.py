"""Heartbeat's time syntax for ha.cf timers, as milliseconds.

heartbeat 3.0.6 (cl_get_msec) reads a decimal number of seconds, optionally followed
by `ms`/`msec` or `us`/`usec` (case-insensitive), and rounds to the nearest
millisecond: `2` = 2000, `1.5` = 1500, `500ms` = 500, `501us` = 1.
We also read `2s`/`2sec` and `1min`, which admins write and which 3.0.6 refuses;
`is_extension()` tells them apart so a checker can say so.
"""
from __future__ import annotations

import re
from fractions import Fraction

MAX_MS = 2**31 - 1          # what fits a C long on every platform heartbeat ran on

_TIME = re.compile(r"(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?P<unit>[A-Za-z]*)")

_LEGACY_UNITS = {"": Fraction(1000), "ms": Fraction(1), "msec": Fraction(1),
                 "us": Fraction(1, 1000), "usec": Fraction(1, 1000)}
_EXTENSION_UNITS = {"s": Fraction(1000), "sec": Fraction(1000), "min": Fraction(60_000)}
_UNITS = {**_LEGACY_UNITS, **_EXTENSION_UNITS}


def _split(text: str) -> tuple[Fraction, str]:
    match = _TIME.fullmatch(text.strip())
    if not match:
        raise ValueError(f"not a time: {text!r}")
    unit = match["unit"].lower()
    if unit not in _UNITS:
        raise ValueError(f"unknown time unit {match['unit']!r}")
    return Fraction(match["number"]), unit


def parse_ms(text: str) -> int:
    """Milliseconds for a time value; ValueError if it is not one."""
    number, unit = _split(text)
    # heartbeat adds one half and truncates: halves round up
    ms = int(number * _UNITS[unit] + Fraction(1, 2))
    if ms > MAX_MS:
        raise ValueError(f"time out of range: {text!r}")
    return ms


def is_extension(text: str) -> bool:
    """True for a valid time that heartbeat 3.0.6 itself would refuse (`2s`, `1min`)."""
    try:
        return _split(text)[1] in _EXTENSION_UNITS
    except ValueError:
        return False


def format_ms(ms: int) -> str:
    """Short human form: 2000 -> `2s`, 1500 -> `1500ms`, 120000 -> `120s`."""
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"

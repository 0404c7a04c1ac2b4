"""Numbers with DRBD's unit suffixes: K, M, G (powers of 1024) and s (512-byte sectors)."""
from __future__ import annotations

import re

SUFFIX_BYTES = {"": 1, "s": 512, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
_NUMBER = re.compile(r"([0-9]+)([kKmMgGs]?)\Z")


def parse_size(text: str, default_unit: str) -> int | None:
    """Bytes for `text` (e.g. '20M', '100' in default_unit); None when it is no size."""
    match = _NUMBER.match(text)
    if not match:
        return None
    digits, suffix = match.groups()
    unit = suffix.lower() if suffix != "s" else "s"
    return int(digits) * SUFFIX_BYTES[unit or default_unit]


def format_size(value: int, default_unit: str) -> str:
    """The shortest text parse_size(…, default_unit) reads back as exactly `value`."""
    for suffix in ("G", "M", "K"):
        step = SUFFIX_BYTES[suffix.lower()]
        if value and value % step == 0:
            return f"{value // step}{suffix}"
    if value % SUFFIX_BYTES[default_unit] == 0:
        return str(value // SUFFIX_BYTES[default_unit])
    if value % 512 == 0:
        return f"{value // 512}s"
    return str(value)

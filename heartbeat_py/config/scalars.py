"""Single values as heartbeat's C code reads them: booleans, integers, facilities."""
from __future__ import annotations

import re

_TRUE = {"true", "on", "yes", "y", "1"}
_FALSE = {"false", "off", "no", "n", "0"}


def parse_bool(value: str) -> bool:
    """heartbeat's boolean words, any case; ValueError for anything else."""
    word = value.lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"not a boolean: {value!r}")


_LEADING_INT = re.compile(r"[ \t\n\r\f\v]*([+-]?[0-9]+)")


def atoi(value: str) -> tuple[int, bool]:
    """(number, exact) with C atoi()'s leniency: `694x` reads as 694, `x` as 0.

    `exact` is False when something was ignored, so the caller can warn; heartbeat
    itself accepts such values silently.
    """
    match = _LEADING_INT.match(value)
    if not match:
        return 0, False
    digits = match.group(1)
    if len(digits) > 40:        # far beyond any C int: keep the number finite
        return (-1 if digits.startswith("-") else 2**63), False
    return int(digits), match.end() == len(value)


# syslog facility names heartbeat knows (glibc's table, case-sensitive); `none`
# switches syslog off, and so does `kern`, whose number is 0
FACILITIES = ("auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "mark",
              "news", "security", "syslog", "user", "uucp", "local0", "local1", "local2", "local3", "local4",
              "local5", "local6", "local7")
NO_FACILITY = "none"

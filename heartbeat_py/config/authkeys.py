"""authkeys: how heartbeat signs and checks its packets.

    auth 3
    3 md5 Hello!

`auth N` picks the key that signs outgoing packets; each `N method [key]` line is a key
incoming packets may use. Read as heartbeat 3.0.6 reads it: only lines starting with
`#` are comments, methods are `crc` (no key), `md5` and `sha1` (a key), N is 0..15, the
key is the first word after the method, kept as the exact bytes written. Like heartbeat
we refuse a file others can read; unlike it we also refuse one others can write.
"""
from __future__ import annotations

import re
import stat
from dataclasses import dataclass, field

from .errors import ConfigWarning, Diagnostics
from .scalars import atoi
from .source import read_file
from .text import WHITESPACE, encode, physical_lines, quoted, show

METHODS_WITH_KEY = ("md5", "sha1")
METHODS_WITHOUT_KEY = ("crc",)
MAX_AUTH = 16
UNSAFE_MODE = stat.S_IRGRP | stat.S_IWGRP | stat.S_IROTH | stat.S_IWOTH

_AUTH = re.compile(r"auth[ \t\n\r\f\v]*([+-]?[0-9]+)")
_KEY_LINE = re.compile(r"([+-]?[0-9]+)[ \t\n\r\f\v]*([^ \t\n\r\f\v]+)"
                       r"(?:[ \t\n\r\f\v]+([^ \t\n\r\f\v]+))?(.*)", re.S)


@dataclass(frozen=True)
class AuthKey:
    index: int
    method: str             # crc, md5 or sha1
    key: bytes              # b"" for crc
    line: int


@dataclass
class AuthKeys:
    path: str
    active: AuthKey                                  # signs what we send
    keys: dict[int, AuthKey] = field(default_factory=dict)   # may sign what we receive
    warnings: list[ConfigWarning] = field(default_factory=list)


def read_authkeys(path: str) -> AuthKeys:
    """Parse the authkeys file at PATH, refusing it if group or others may read or write it."""
    data, mode = read_file(path, "keyfile")
    return parse_authkeys(data, str(path), mode=mode)


def parse_authkeys(data: bytes | str, path: str = "authkeys", *, mode: int | None = None) -> AuthKeys:
    """Parse authkeys text; raise ConfigErrors listing every error found.

    MODE, when given, is the file's st_mode, checked for group/other access.
    """
    diag = Diagnostics(path)
    if mode is not None and mode & UNSAFE_MODE:
        diag.error(None, f"bad permissions {stat.S_IMODE(mode):04o} on keyfile: group or others"
                   " may read or write it; run chmod 600")
    keys: dict[int, AuthKey] = {}
    chosen: tuple[int, int] | None = None           # (index, line)
    for number, text in physical_lines(data):
        text = text.lstrip(WHITESPACE)
        if not text or text.startswith("#"):
            continue
        if text.startswith("a"):
            match = _AUTH.match(text)
            if not match:
                diag.error(number, f"invalid auth line {quoted(text.rstrip())} (expected: auth N)")
                continue
            if chosen is not None:
                diag.warn(number, f"auth given again (first on line {chosen[1]}); this one is used")
            chosen = (atoi(match.group(1))[0], number)
            continue
        key = _key_line(text, number, diag)
        if key is None:
            continue
        if key.index in keys:
            diag.warn(number, f"key {key.index} defined again (first on line"
                      f" {keys[key.index].line}); this one is used")
        keys[key.index] = key
    active = None
    if chosen is None:
        diag.error(None, "missing auth directive (add a line: auth N)")
    elif chosen[0] not in keys:
        diag.error(chosen[1], f"auth {chosen[0]}: no valid key {chosen[0]} in this file")
    else:
        active = keys[chosen[0]]
    diag.raise_if_errors()
    assert active is not None
    return AuthKeys(path, active, keys, diag.warnings)


def _key_line(text: str, number: int, diag: Diagnostics) -> AuthKey | None:
    match = _KEY_LINE.match(text)
    if not match:
        diag.error(number, f"invalid line {quoted(text.rstrip())} (expected: N crc | N md5 KEY | N sha1 KEY)")
        return None
    index_text, method, key, rest = match.groups()
    index = atoi(index_text)[0]
    if not 0 <= index < MAX_AUTH:
        diag.error(number, f"invalid key number {show(index_text)} (0 to {MAX_AUTH - 1})")
        return None
    if method not in METHODS_WITH_KEY + METHODS_WITHOUT_KEY:
        diag.error(number, f"invalid authentication method {quoted(method)} (crc, md5 or sha1)")
        return None
    if method in METHODS_WITHOUT_KEY and key:
        diag.error(number, f"method {method} takes no key")
        return None
    if method in METHODS_WITH_KEY and not key:
        diag.error(number, f"method {method} requires a key")
        return None
    if rest.strip(WHITESPACE):
        diag.warn(number, f"key {index}: only the first word after {method} is the key,"
                  " as heartbeat reads it; the rest of the line is ignored")
    return AuthKey(index, method, encode(key or ""), number)

"""Reading 2006-era text files the way heartbeat's C code does.

The files may hold any bytes: Japanese comments in EUC-JP or UTF-8, Windows line ends,
stray NULs. Directives are ASCII; everything else is kept byte for byte (an authkeys key
is hashed as the bytes it is), so lines are decoded with surrogateescape.
"""
from __future__ import annotations

from collections.abc import Iterator

ENCODING = "utf-8"
ERRORS = "surrogateescape"

# The C parsers split on these sets (heartbeat.h WHITESPACE and DELIMS); note that
# \v is not among them, and that a comma separates values but not words of a line.
WHITESPACE = " \t\n\r\f"
DELIMS = ", \t\n\r\f"


def decode(raw: bytes) -> str:
    return raw.decode(ENCODING, ERRORS)


def encode(text: str) -> bytes:
    """The exact bytes a decoded string came from."""
    return text.encode(ENCODING, ERRORS)


def physical_lines(data: bytes | str) -> Iterator[tuple[int, str]]:
    """(line number, text) for each line, without its line end.

    A NUL ends a line's content, as it ends a C string that fgets() filled.
    """
    if isinstance(data, str):
        data = encode(data)
    for number, raw in enumerate(data.split(b"\n"), start=1):
        nul = raw.find(b"\0")
        if nul >= 0:
            raw = raw[:nul]
        yield number, decode(raw)


def strip_comment(text: str) -> str:
    cut = text.find("#")
    return text if cut < 0 else text[:cut]


def split_words(text: str, delims: str = WHITESPACE) -> list[str]:
    words, current = [], []
    for char in text:
        if char in delims:
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        words.append("".join(current))
    return words


def ascii_lower(text: str) -> str:
    """Lower-case A-Z only, as heartbeat's inplace_ascii_strdown() does."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def show(text: str) -> str:
    """A value fit for a one-line message: undecodable bytes and controls escaped."""
    out = []
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:            # a byte that was not UTF-8
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        else:
            out.append(char)
    return "".join(out)


def quoted(text: str) -> str:
    return f'"{show(text)}"'

"""Split drbd.conf text into tokens, every one knowing its file and line.

The grammar of all DRBD eras shares one lexical layer: words, double-quoted
strings, `{ } ; [ ]` and `#` comments to the end of a line. A colon stays
inside a word so that `10.1.1.31:7789` and `fd00::1` arrive whole.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

PUNCTUATION = "{};[]"
# Words stop at whitespace, punctuation, quotes and comments.
WORD_STOP = set(" \t\r\n\f\v" + PUNCTUATION + '"#')


class Kind(Enum):
    WORD = "word"
    STRING = "string"  # was double-quoted in the file
    PUNCT = "punct"
    BAD = "bad"  # a broken string; an error unless it sits inside a `skip` block
    EOF = "eof"


@dataclass(frozen=True)
class Token:
    kind: Kind
    text: str
    path: str
    line: int

    def is_punct(self, char: str) -> bool:
        return self.kind is Kind.PUNCT and self.text == char

    def shown(self) -> str:
        """How error messages quote the token."""
        if self.kind is Kind.EOF:
            return "end of file"
        return self.text


def _quoted(text: str, start: int) -> tuple[str | None, int]:
    """The string opened by the quote at text[start]: (value or None if unterminated, end)."""
    out = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == '"':
            return "".join(out), i + 1
        if char == "\n":
            break
        if char == "\\" and i + 1 < len(text) and text[i + 1] != "\n":
            out.append(text[i + 1])
            i += 2
            continue
        out.append(char)
        i += 1
    return None, i


def tokenize(text: str, path: str) -> list[Token]:
    tokens: list[Token] = []
    line = 1
    i = 0
    size = len(text)
    while i < size:
        char = text[i]
        if char == "\n":
            line += 1
            i += 1
        elif char.isspace():
            i += 1
        elif char == "#":
            end = text.find("\n", i)
            i = size if end < 0 else end
        elif char in PUNCTUATION:
            tokens.append(Token(Kind.PUNCT, char, path, line))
            i += 1
        elif char == '"':
            value, i = _quoted(text, i)
            if value is None:
                tokens.append(Token(Kind.BAD, "Unterminated double quoted string", path, line))
            else:
                tokens.append(Token(Kind.STRING, value, path, line))
        else:
            start = i
            while i < size and text[i] not in WORD_STOP:
                i += 1
            tokens.append(Token(Kind.WORD, text[start:i], path, line))
    tokens.append(Token(Kind.EOF, "", path, line))
    return tokens

"""Resource sets as heartbeat v1 names them: always from one node's point of view.

`local` is the groups haresources gives to that node, `foreign` the others, `all`
both. heartbeat keeps them as bits (local 1, foreign 2), and so do we.
"""
from __future__ import annotations

from collections.abc import Iterable

from ..config.haresources import ResourceGroup

NONE, LOCAL, FOREIGN, ALL = 0, 1, 2, 3
NAMES = ("none", "local", "foreign", "all")


def name(bits: int) -> str:
    return NAMES[bits] if 0 <= bits < len(NAMES) else "(undefined)"


def parse(word: str | None, default: int = NONE) -> int:
    """A set's wire name to its bits; an unknown word counts as none, as in 3.0.6."""
    if word is None:
        return default
    try:
        return NAMES.index(word)
    except ValueError:
        return NONE


def mirror(bits: int) -> int:
    """The same groups seen from the other node (local <-> foreign)."""
    return ((bits & LOCAL) << 1) | ((bits & FOREIGN) >> 1)


def groups_of(bits: int, groups: Iterable[ResourceGroup], me: str) -> list[ResourceGroup]:
    """The groups a set names, from node `me`'s view, in haresources order."""
    return [g for g in groups
            if (bits & LOCAL and g.node == me) or (bits & FOREIGN and g.node != me)]

"""What a node keeps across restarts under /var/lib/heartbeat: its generation and uuid.

Same files and formats as heartbeat 3.0.6, so a node can switch between the real
daemon and ours and keep both: `hb_generation` holds the generation as 15
right-aligned decimal digits and a newline; `hb_uuid` holds 16 raw bytes.

The generation goes up by one at every start and is fsynced before the first packet
leaves: peers drop packets with a generation lower than the last one they saw, so a
lower one would lock us out of the cluster ("attempted replay attack").
"""
from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

GENERATION_FILE = "hb_generation"
UUID_FILE = "hb_uuid"
GENERATION_WIDTH = 15           # digits, then "\n": 16 bytes in all
UUID_LEN = 16


class PersistError(Exception):
    """The generation or uuid cannot be stored: heartbeat must not start."""


@dataclass(frozen=True)
class Generation:
    value: int
    notes: tuple[tuple[str, str], ...]      # (level, message) for the log


def _write_synced(path: Path, data: bytes) -> None:
    """Write through a temporary file, fsync it and its folder, then rename: a crash
    leaves either the old value or the new one, never a torn file."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dirfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dirfd)
    finally:
        os.close(dirfd)


def next_generation(varlib: str | os.PathLike, now: Callable[[], float]) -> Generation:
    """Read the stored generation, add one, store it; PersistError if it cannot be kept.

    Without a file (first start) the generation is based on the clock, as 3.0.6 does.
    A file that does not parse is not trusted to be the highest value ever used, so the
    clock is taken too, and the larger of the two wins (3.0.6 restarts from 1 then,
    which its peers refuse as a replay).
    """
    path = Path(varlib) / GENERATION_FILE
    clock = int(now())
    notes = []
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raw = None
    except OSError as e:
        raise PersistError(f"cannot read {path}: {e.strerror}") from None
    if raw is None or not raw.strip():
        value = clock + 1
        notes.append(("warning", f"No Previous generation - starting at {value}"))
    else:
        try:
            stored = int(raw[:GENERATION_WIDTH + 1].decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            stored = None
        if stored is None or stored < 0:
            value = clock + 1
            notes.append(("warning", f"BROKEN previous generation - starting at {value}"))
        else:
            value = stored + 1
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_synced(path, b"%*d\n" % (GENERATION_WIDTH, value))
    except OSError as e:
        raise PersistError(f"cannot write {path}: {e.strerror}") from None
    notes.append(("info", f"Heartbeat generation: {value}"))
    return Generation(value, tuple(notes))


def uuid_from_name(nodename: str) -> bytes:
    """`uuidfrom nodename`: the same name always gives the same uuid (ours is a
    hash of the name; peers only ever learn it from our packets)."""
    return hashlib.sha1(b"heartbeat-node:" + nodename.lower().encode()).digest()[:UUID_LEN]


def load_uuid(varlib: str | os.PathLike, nodename: str, from_name: bool = False,
              log: Callable[[str], None] = lambda message: None) -> bytes:
    """This node's uuid: from hb_uuid, created on first start (PersistError if it
    cannot be stored), or derived from the node name."""
    if from_name:
        return uuid_from_name(nodename)
    path = Path(varlib) / UUID_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raw = b""
    except OSError as e:
        raise PersistError(f"cannot read {path}: {e.strerror}") from None
    if len(raw) >= UUID_LEN:
        return raw[:UUID_LEN]
    log("No uuid found for current node - generating a new uuid.")
    value = uuid.uuid4().bytes
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_synced(path, value)
    except OSError as e:
        raise PersistError(f"cannot write {path}: {e.strerror}") from None
    return value

"""Packet authentication as authkeys selects it: `crc` (no key), `md5`, `sha1` (HMAC).

A signature travels as `IDX HEX`: the authkeys index, a space, lower-case hex. The
crc is the 32-bit CRC with polynomial 0x04C11DB7, MSB first, zero start, inverted at
the end, printed without leading zeros (HBauth/crc.c); md5 and sha1 are plain HMAC
with the key's bytes (HBauth/md5.c, sha1.c).
"""
import hmac
import re
from dataclasses import dataclass, field
from enum import Enum

from .errors import BadAuth


class AuthMethod(str, Enum):
    CRC = "crc"
    MD5 = "md5"
    SHA1 = "sha1"


def _crc_table():
    table = []
    for byte in range(256):
        reg = byte << 24
        for _ in range(8):
            reg = ((reg << 1) ^ 0x04C11DB7) if reg & 0x80000000 else (reg << 1)
        table.append(reg & 0xFFFFFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc32_hb(data):
    reg = 0
    for byte in data:
        reg = ((reg << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[(reg >> 24) ^ byte]
    return ~reg & 0xFFFFFFFF


def digest(method, key, data):
    """The hex string heartbeat computes for `data` with this method and key."""
    method = AuthMethod(method)
    if method == AuthMethod.CRC:
        return "%x" % crc32_hb(data)
    return hmac.new(key, data, method.value).hexdigest()


@dataclass(frozen=True)
class AuthKey:
    index: int
    method: AuthMethod
    key: bytes = b""

    def __post_init__(self):
        object.__setattr__(self, "method", AuthMethod(self.method))
        if isinstance(self.key, str):
            object.__setattr__(self, "key", self.key.encode())


_TOKEN = re.compile(r"(\d+) ([0-9A-Za-z]+)")


@dataclass(frozen=True)
class Keyring:
    """What authkeys says: every numbered key (all accepted on input) and the one
    `auth N` selects for signing."""

    active: int
    keys: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.active not in self.keys:
            raise ValueError(f"auth {self.active}: no key with that index")

    @classmethod
    def single(cls, index, method, key=b""):
        return cls(index, {index: AuthKey(index, method, key)})

    @classmethod
    def from_authkeys(cls, authkeys):
        """From heartbeat_py.config's parsed authkeys (anything with `.active.index`
        and `.keys` mapping index -> object with `.method` and `.key`)."""
        keys = {i: AuthKey(i, k.method, k.key) for i, k in authkeys.keys.items()}
        return cls(authkeys.active.index, keys)

    def sign(self, data):
        k = self.keys[self.active]
        return f"{k.index} {digest(k.method, k.key, data)}"

    def check(self, token, data):
        """Raise BadAuth unless `token` (`IDX HEX`) signs `data` with a key we hold."""
        m = _TOKEN.fullmatch(token)
        if not m:
            raise BadAuth(f"malformed authentication token {token[:40]!r}")
        k = self.keys.get(int(m.group(1)))
        if k is None:
            raise BadAuth(f"authentication index {m.group(1)} not in authkeys")
        if not hmac.compare_digest(m.group(2), digest(k.method, k.key, data)):
            raise BadAuth("authentication digest does not match")

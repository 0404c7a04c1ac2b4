"""Property tests: no input makes the configuration parsers fail other than with
ConfigError, and every message they give is one printable line."""
import os
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from heartbeat_py.config import (ConfigError, ConfigErrors, load, parse_authkeys, parse_hacf,
                                 parse_haresources)
from heartbeat_py.config.directives import ALIASES, DIRECTIVES

DATA = Path(__file__).parent / "data" / "hacfg"
HACF_FILES = [(DATA / d / "ha.cf").read_bytes() for d in ("classic", "classic-eucjp", "reference")] + \
    [(DATA / "all-directives.cf").read_bytes()]
HARESOURCES_FILES = [(DATA / d / "haresources").read_bytes() for d in ("classic", "classic-eucjp", "reference")]
AUTHKEYS_FILES = [b"auth 3\n3 md5 Hello!\n", b"auth 1\n1 crc\n2 sha1 k\n"]

SETTINGS = settings(max_examples=150, deadline=None)


def mutated(files):
    """A real file with a few bytes inserted, deleted or replaced."""
    edit = st.tuples(st.integers(0, 4000), st.sampled_from(["insert", "delete", "replace"]),
                     st.binary(min_size=1, max_size=6))

    def apply(base, edits):
        data = bytearray(base)
        for position, kind, chunk in edits:
            at = position % (len(data) + 1)
            if kind == "insert":
                data[at:at] = chunk
            elif kind == "delete":
                del data[at:at + len(chunk)]
            else:
                data[at:at + len(chunk)] = chunk
        return bytes(data)
    return st.builds(apply, st.sampled_from(files), st.lists(edit, max_size=6))


# lines made of the words the parsers look for, so that deep paths are reached too
WORDS = st.sampled_from([d.name for d in DIRECTIVES] + list(ALIASES) + [
    "auth", "crc", "md5", "sha1", "eth0", "192.0.2.1", "239.0.0.1", "10.0.0.5/24/eth0", "::", "\\",
    "#", ",", "0", "1", "2", "5", "16", "694", "-1", "500ms", "2s", "1min", "on", "off", "legacy",
    "yes", "no", "respawn", "local0", "none", "uid=x", "gid=y", "/dev/ttyS0", "/bin/true", "root",
    "IPaddr::1.2.3.4", "drbddisk::r0", "alpha", "BETA", "\u65e5", "\x00", "\r", "\t", "*"]).map(str.encode)
RAW = st.sampled_from([b"\xff", b"\xfe\x80", b"\xe6\x97"])          # bytes that are not UTF-8
LINES = st.lists(st.lists(st.one_of(WORDS, RAW), max_size=7).map(b" ".join), max_size=25).map(b"\n".join)


def assert_clean(error: ConfigError):
    errors = error.errors if isinstance(error, ConfigErrors) else [error]
    for e in errors + list(getattr(error, "warnings", [])):
        text = str(e)
        assert "\n" not in text and "\r" not in text
        text.encode("utf-8")            # printable: no undecodable bytes left raw


def check_hacf(data):
    try:
        cf = parse_hacf(data, "ha.cf", udpport_default=694)
    except ConfigError as e:
        assert_clean(e)
        return
    assert cf.deadtime_ms > 2 * cf.keepalive_ms and cf.initdead_ms >= cf.deadtime_ms
    assert all(n == n.lower() or not n.isascii() for n in cf.nodes)
    for w in cf.warnings + cf.unhandled:
        assert "\n" not in str(w)


def check_haresources(data):
    try:
        resources = parse_haresources(data, "haresources")
    except ConfigError as e:
        assert_clean(e)
        return
    assert all(g.resources and all(r.script and "/" not in r.script for r in g.resources) for g in resources)


def check_authkeys(data, mode=0o100600):
    try:
        keys = parse_authkeys(data, "authkeys", mode=mode)
    except ConfigError as e:
        assert_clean(e)
        return
    assert keys.keys[keys.active.index] == keys.active
    assert all(k.method in ("crc", "md5", "sha1") and 0 <= k.index < 16 for k in keys.keys.values())


@SETTINGS
@given(st.one_of(st.binary(max_size=3000), mutated(HACF_FILES), LINES))
def test_hacf_never_fails_otherwise(data):
    check_hacf(data)


@SETTINGS
@given(st.one_of(st.binary(max_size=2000), mutated(HARESOURCES_FILES), LINES))
def test_haresources_never_fails_otherwise(data):
    check_haresources(data)


@SETTINGS
@given(st.one_of(st.binary(max_size=2000), mutated(AUTHKEYS_FILES), LINES), st.integers(0, 0o7777))
def test_authkeys_never_fails_otherwise(data, permissions):
    check_authkeys(data, 0o100000 | permissions)


@settings(max_examples=40, deadline=None)
@given(mutated(HACF_FILES), mutated(HARESOURCES_FILES), mutated(AUTHKEYS_FILES))
def test_loading_a_directory_never_fails_otherwise(hacf, haresources, authkeys):
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in (("ha.cf", hacf), ("haresources", haresources), ("authkeys", authkeys)):
            (Path(tmp) / name).write_bytes(data)
        os.chmod(Path(tmp) / "authkeys", 0o600)
        try:
            cfg = load(tmp, env={"INITDIR": tmp}, nodename="debian-420")
        except ConfigError as e:
            assert_clean(e)
            return
        assert "\n" not in cfg.summary()
        cfg.summary().encode("utf-8")

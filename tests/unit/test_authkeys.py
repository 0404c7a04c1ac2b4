"""authkeys as heartbeat reads it, with its permission check."""
from pathlib import Path

import pytest

from heartbeat_py.config import ConfigErrors, parse_authkeys, read_authkeys

DATA = Path(__file__).parent / "data" / "hacfg"
PATH = "/etc/ha.d/authkeys"


def parse(data):
    return parse_authkeys(data if isinstance(data, bytes) else data.encode(), PATH)


def errors_of(data, **kwargs):
    with pytest.raises(ConfigErrors) as caught:
        parse_authkeys(data.encode(), PATH, **kwargs)
    return [str(e) for e in caught.value.errors]


def keyfile(tmp_path, text, mode):
    path = tmp_path / "authkeys"
    path.write_bytes(text)
    path.chmod(mode)
    return str(path)


def test_classic_guide_file(tmp_path):
    keys = read_authkeys(keyfile(tmp_path, (DATA / "classic" / "authkeys").read_bytes(), 0o600))
    assert (keys.active.index, keys.active.method, keys.active.key) == (3, "md5", b"Hello!")
    assert list(keys.keys) == [3] and keys.warnings == []


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o660, 0o666])
def test_group_or_other_access_refused(tmp_path, mode):
    path = keyfile(tmp_path, b"auth 1\n1 sha1 secret\n", mode)
    with pytest.raises(ConfigErrors) as caught:
        read_authkeys(path)
    assert [str(e) for e in caught.value.errors] == [
        f"{path}: bad permissions {mode:04o} on keyfile: group or others may read or write it; run chmod 600"]


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o700])
def test_owner_only_accepted(tmp_path, mode):
    assert read_authkeys(keyfile(tmp_path, b"auth 1\n1 sha1 secret\n", mode)).active.key == b"secret"


def test_unreadable_file(tmp_path):
    with pytest.raises(ConfigErrors) as caught:
        read_authkeys(str(tmp_path / "authkeys"))
    assert str(caught.value) == f"{tmp_path}/authkeys: cannot open keyfile: No such file or directory"


def test_several_keys_the_auth_line_chooses():
    keys = parse("# keys\n  auth 2\n1 crc\n2 sha1 s3cr3t\n\t3 md5 other\n")
    assert (keys.active.index, keys.active.method) == (2, "sha1")
    assert {i: (k.method, k.key, k.line) for i, k in keys.keys.items()} == \
        {1: ("crc", b"", 3), 2: ("sha1", b"s3cr3t", 4), 3: ("md5", b"other", 5)}


def test_key_is_first_word_as_exact_bytes():
    keys = parse("auth 1\n1 md5 p\xe4ss w\xf6rd\n".encode("latin-1"))
    assert keys.active.key == "p\xe4ss".encode("latin-1")
    assert any("only the first word" in w.message for w in keys.warnings)


@pytest.mark.parametrize("text, errors", [
    ("auth 2\n3 md5 Hello!\n", [f"{PATH}:1: auth 2: no valid key 2 in this file"]),
    ("3 md5 Hello!\n", [f"{PATH}: missing auth directive (add a line: auth N)"]),
    ("auth 1\n1 crc key\n", [f"{PATH}:2: method crc takes no key", f"{PATH}:1: auth 1: no valid key 1 in this file"]),
    ("auth 1\n1 sha1\n", [f"{PATH}:2: method sha1 requires a key", f"{PATH}:1: auth 1: no valid key 1 in this file"]),
    ("auth 1\n1 MD5 x\n", [f'{PATH}:2: invalid authentication method "MD5" (crc, md5 or sha1)',
                           f"{PATH}:1: auth 1: no valid key 1 in this file"]),
    ("auth 16\n16 md5 x\n", [f"{PATH}:2: invalid key number 16 (0 to 15)", f"{PATH}:1: auth 16: no valid key 16 in this file"]),
    ("auth x\n1 md5 x\n", [f'{PATH}:1: invalid auth line "auth x" (expected: auth N)',
                           f"{PATH}: missing auth directive (add a line: auth N)"]),
    ("auth 1\nfoo\n1 md5 x\n", [f'{PATH}:2: invalid line "foo" (expected: N crc | N md5 KEY | N sha1 KEY)']),
])
def test_errors(text, errors):
    assert errors_of(text) == errors


def test_permission_and_content_errors_reported_together():
    assert errors_of("auth 1\n", mode=0o100644) == [
        f"{PATH}: bad permissions 0644 on keyfile: group or others may read or write it; run chmod 600",
        f"{PATH}:1: auth 1: no valid key 1 in this file"]


def test_redefinitions_warned():
    keys = parse("auth 1\nauth 2\n1 md5 a\n2 md5 b\n2 md5 c\n")
    assert (keys.active.index, keys.active.key) == (2, b"c")
    assert [w.line for w in keys.warnings] == [2, 5]

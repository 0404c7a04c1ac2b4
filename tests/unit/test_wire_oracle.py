"""Our encoders against the real ones: heartbeat 3.0.6's own message library
(cluster-glue's libplumb) and auth plugins, loaded with ctypes, build the same
messages and must produce the same bytes; and they must read ours back unchanged.
This covers what the captures do not contain: nested messages, string lists, binary
fields in the classic form, newlines in values, crc and sha1."""
import ctypes
import ctypes.util
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heartbeat_py.wire import FieldType, Message, digest
from heartbeat_py.wire import classic, netstring

PLUMB = "/usr/lib/libplumb.so.2"
HBAUTH = "/usr/lib/heartbeat/plugins/HBauth"

if not os.path.exists(PLUMB):
    pytest.skip("heartbeat's libplumb is not installed", allow_module_level=True)


class Plumb:
    """The few libplumb calls we need, with their C signatures."""

    def __init__(self):
        ctypes.CDLL("libglib-2.0.so.0", mode=ctypes.RTLD_GLOBAL)
        lib = ctypes.CDLL(PLUMB)
        self.libc = ctypes.CDLL(ctypes.util.find_library("c"))
        self.libc.free.argtypes = [ctypes.c_void_p]
        P, S, I, Z = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_size_t
        sig = {
            "ha_msg_new": ([I], P), "ha_msg_del": ([P], None),
            "ha_msg_add": ([P, S, S], I), "ha_msg_addbin": ([P, S, P, Z], I),
            "ha_msg_addstruct": ([P, S, P], I), "cl_msg_list_add_string": ([P, S, S], I),
            "msg2netstring_noauth": ([P, ctypes.POINTER(Z)], P), "msg2string": ([P], P),
            "msg2string_buf": ([P, P, Z, I, I], I), "get_stringlen": ([P], I),
            "wirefmt2msg": ([S, Z, I], P),
        }
        for name, (args, res) in sig.items():
            fn = getattr(lib, name)
            fn.argtypes, fn.restype = args, res
            setattr(self, name, fn)

    def build(self, msg):
        m = self.ha_msg_new(0)
        for f in msg:
            name = f.name.encode()
            if f.type == FieldType.STRING:
                assert self.ha_msg_add(m, name, f.value.encode()) == 1
            elif f.type == FieldType.BINARY:
                buf = ctypes.create_string_buffer(f.value, len(f.value))
                assert self.ha_msg_addbin(m, name, buf, len(f.value)) == 1
            elif f.type == FieldType.LIST:
                for item in f.value:
                    assert self.cl_msg_list_add_string(m, name, item.encode()) == 1
            else:
                child = self.build(f.value)
                assert self.ha_msg_addstruct(m, name, child) == 1
                self.ha_msg_del(child)
        return m

    def _take(self, ptr, length=None):
        assert ptr, "libplumb refused the message"
        try:
            return ctypes.string_at(ptr) if length is None else ctypes.string_at(ptr, length)
        finally:
            self.libc.free(ptr)

    def netstring(self, m):
        n = ctypes.c_size_t()
        return self._take(self.msg2netstring_noauth(m, ctypes.byref(n)), n.value)

    def classic(self, m):
        return self._take(self.msg2string(m))

    def auth_text(self, m):
        size = self.get_stringlen(m)
        buf = ctypes.create_string_buffer(size)
        assert self.msg2string_buf(m, buf, size, 0, 0) == 1
        return buf.value

    def parse(self, data):
        m = self.wirefmt2msg(data, len(data), 0)
        assert m, f"libplumb could not parse {data[:60]!r}"
        return m


@pytest.fixture(scope="module")
def plumb():
    return Plumb()


names = st.text("abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=8)
# No NUL (C strings) and none of the bytes the classic form uses as newline symbols.
texts = st.text(st.characters(blacklist_characters="\0\x13\x0f\x10\x11\x12" + "".join(
    map(chr, range(20, 32))), blacklist_categories=("Cs",)), max_size=20)


def messages(depth=2):
    leaf = st.one_of(
        st.tuples(names, texts.filter(bool)).map(lambda p: (p[0], p[1], FieldType.STRING)),
        st.tuples(names, st.binary(min_size=1, max_size=20)).map(
            lambda p: (p[0], p[1], FieldType.BINARY)),
        st.tuples(names, st.lists(texts.filter(lambda s: s and "\n" not in s),
                                  min_size=1, max_size=3)).map(
            lambda p: (p[0], p[1], FieldType.LIST)),
    )
    field = leaf if depth == 0 else st.one_of(
        leaf, st.tuples(names, messages(depth - 1)).map(
            lambda p: (p[0], p[1], FieldType.STRUCT)))

    def unique(fs):
        # a repeated list name makes libplumb append to the first list: keep names apart
        seen, out = set(), []
        for f in fs:
            if f[0] not in seen:
                seen.add(f[0])
                out.append(f)
        return Message(out)
    return st.lists(field, min_size=1, max_size=5).map(unique)


SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(messages())
def test_we_encode_like_libplumb(plumb, msg):
    m = plumb.build(msg)
    try:
        assert netstring.encode_body(msg) == plumb.netstring(m)
        assert classic.encode(msg) == plumb.classic(m)
        assert classic.render_fields(msg, skip_auth=True) == plumb.auth_text(m)
    finally:
        plumb.ha_msg_del(m)


@SETTINGS
@given(messages())
def test_libplumb_reads_our_encodings_back(plumb, msg):
    ours = netstring.encode_body(msg)
    for data in (ours, classic.encode(msg)):
        m = plumb.parse(data)
        try:
            assert plumb.netstring(m) == ours
        finally:
            plumb.ha_msg_del(m)


@SETTINGS
@given(messages())
def test_we_read_libplumb_encodings(plumb, msg):
    m = plumb.build(msg)
    try:
        assert netstring.decode_body(plumb.netstring(m))[0] == msg
        assert classic.decode(plumb.classic(m))[0] == msg
    finally:
        plumb.ha_msg_del(m)


def test_auth_field_is_left_out_of_the_signed_text(plumb):
    msg = Message.of(t="status", auth="3 x", st="up")
    m = plumb.build(msg)
    try:
        assert plumb.auth_text(m) == classic.render_fields(msg, skip_auth=True) == (
            b"t=status\nst=up\n")
    finally:
        plumb.ha_msg_del(m)


# ------------------------------------------------------------------ auth plugins
class AuthPlugins:
    """heartbeat's HBauth plugins: call their auth function through the PILS init."""

    REG_PLUGIN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
    REG_IF = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p,
                              ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p,
                              ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
    AUTH = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                            ctypes.c_char_p, ctypes.c_int)

    class Imports(ctypes.Structure):
        _fields_ = [("register_plugin", ctypes.c_void_p), ("unregister_plugin", ctypes.c_void_p),
                    ("register_interface", ctypes.c_void_p), ("rest", ctypes.c_void_p * 8)]

    class Info(ctypes.Structure):
        _fields_ = [("auth", ctypes.c_void_p), ("authname", ctypes.c_char_p),
                    ("key", ctypes.c_char_p)]

    def __init__(self):
        ctypes.CDLL("libglib-2.0.so.0", mode=ctypes.RTLD_GLOBAL)
        self.funcs, self._keep = {}, []
        for name in ("crc", "md5", "sha1"):
            lib = ctypes.CDLL(os.path.join(HBAUTH, name + ".so"))
            got = {}

            def reg_if(_us, _t, _n, ops, *_rest, got=got):
                got["ops"] = ops
                return 0
            callbacks = (self.REG_PLUGIN(lambda *_: 0), self.REG_IF(reg_if))
            imports = self.Imports(ctypes.cast(callbacks[0], ctypes.c_void_p), None,
                                   ctypes.cast(callbacks[1], ctypes.c_void_p))
            init = getattr(lib, f"HBauth_LTX_{name}_pil_plugin_init")
            init.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
            assert init(None, ctypes.byref(imports), None) == 0
            fn = self.AUTH(ctypes.cast(got["ops"], ctypes.POINTER(ctypes.c_void_p))[0])
            self._keep += [lib, callbacks, imports]
            self.funcs[name] = fn

    def digest(self, method, key, data):
        info = self.Info(None, method.encode(), key)
        out = ctypes.create_string_buffer(128)
        assert self.funcs[method](ctypes.byref(info), data, len(data), out, 128)
        return out.value.decode()


@pytest.fixture(scope="module")
def plugins():
    if not os.path.isdir(HBAUTH):
        pytest.skip("heartbeat's auth plugins are not installed")
    return AuthPlugins()


@settings(max_examples=300, deadline=None)
@given(method=st.sampled_from(["crc", "md5", "sha1"]), data=st.binary(max_size=300),
       key=st.binary(min_size=1, max_size=100).filter(lambda k: b"\0" not in k))
def test_digests_match_heartbeats_auth_plugins(plugins, method, data, key):
    assert digest(method, key, data) == plugins.digest(method, key, data)

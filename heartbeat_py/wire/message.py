"""The cluster message: an ordered list of typed name=value fields.

Order matters: it is part of both authentications, and re-encoding a received message
must give back the very bytes that arrived. Text goes through UTF-8 with
surrogateescape so that any byte string survives decode and re-encode unchanged.
"""
from dataclasses import dataclass
from enum import IntEnum


class FieldType(IntEnum):
    """The digit in `(T)name=`; cl_msg_types.c's numbering."""

    STRING = 0
    BINARY = 1
    STRUCT = 2      # a nested message
    LIST = 3        # a list of strings
    COMPRESS = 4    # compressed nested message: kept opaque (bytes)
    UNCOMPRESS = 5  # a nested message that the sender marked for compression


ENCODING = "utf-8"
ERRORS = "surrogateescape"


def to_bytes(text):
    return text.encode(ENCODING, ERRORS)


def to_text(raw):
    return bytes(raw).decode(ENCODING, ERRORS)


@dataclass
class Field:
    name: str
    type: FieldType
    value: object   # str | bytes | Message | list[str], as `type` says


def _infer_type(value):
    if isinstance(value, str):
        return FieldType.STRING
    if isinstance(value, (bytes, bytearray)):
        return FieldType.BINARY
    if isinstance(value, Message):
        return FieldType.STRUCT
    if isinstance(value, (list, tuple)):
        return FieldType.LIST
    raise TypeError(f"cannot store {type(value).__name__} in a message field")


def _check(name, ftype, value):
    # a leading "(" would read back as a type prefix
    if not name or name[0] == "(" or "=" in name or "\n" in name or "\0" in name:
        raise ValueError(f"bad field name {name!r}")
    if ftype == FieldType.STRING:
        if not isinstance(value, str) or "\0" in value:
            raise ValueError(f"field {name}: a string field holds text without NUL")
    elif ftype in (FieldType.BINARY, FieldType.COMPRESS):
        if not isinstance(value, (bytes, bytearray)):
            raise ValueError(f"field {name}: needs bytes")
    elif ftype in (FieldType.STRUCT, FieldType.UNCOMPRESS):
        if not isinstance(value, Message):
            raise ValueError(f"field {name}: needs a Message")
    elif ftype == FieldType.LIST:
        if not all(isinstance(v, str) and v and "\0" not in v for v in value):
            raise ValueError(f"field {name}: a list holds non-empty strings")


class Message:
    """Ordered fields; names may repeat (heartbeat looks up the first one)."""

    __slots__ = ("fields",)

    def __init__(self, fields=()):
        self.fields = []
        for f in fields:
            if isinstance(f, Field):
                self.add(f.name, f.value, f.type)
            else:
                self.add(*f)

    @classmethod
    def of(cls, *pairs, **named):
        """Message.of(("t", "status"), ("st", "up")) or Message.of(t="status")."""
        msg = cls(pairs)
        for name, value in named.items():
            msg.add(name, value)
        return msg

    # --- reading ---
    def get(self, name, default=None):
        for f in self.fields:
            if f.name == name:
                return f.value
        return default

    def __getitem__(self, name):
        for f in self.fields:
            if f.name == name:
                return f.value
        raise KeyError(name)

    def __contains__(self, name):
        return any(f.name == name for f in self.fields)

    def field(self, name):
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def names(self):
        return [f.name for f in self.fields]

    def __iter__(self):
        return iter(self.fields)

    def __len__(self):
        return len(self.fields)

    @property
    def type(self):
        return self.get("t")

    # --- changing ---
    def add(self, name, value, ftype=None):
        """Append a field (ha_msg_add)."""
        ftype = FieldType(_infer_type(value) if ftype is None else ftype)
        if ftype == FieldType.LIST:
            value = list(value)
        elif isinstance(value, bytearray):
            value = bytes(value)
        _check(name, ftype, value)
        self.fields.append(Field(name, ftype, value))
        return self

    def set(self, name, value, ftype=None):
        """Replace the first field of that name in place, else append (ha_msg_mod):
        keeping the position keeps the wire order heartbeat produces."""
        ftype = FieldType(_infer_type(value) if ftype is None else ftype)
        for i, f in enumerate(self.fields):
            if f.name == name:
                _check(name, ftype, value)
                self.fields[i] = Field(name, ftype, list(value) if ftype == FieldType.LIST else value)
                return self
        return self.add(name, value, ftype)

    def remove(self, name):
        self.fields = [f for f in self.fields if f.name != name]
        return self

    def copy(self):
        out = Message()
        for f in self.fields:
            value = f.value
            if isinstance(value, Message):
                value = value.copy()
            elif isinstance(value, list):
                value = list(value)
            out.fields.append(Field(f.name, f.type, value))
        return out

    def without(self, name):
        out = self.copy()
        return out.remove(name)

    def __eq__(self, other):
        return isinstance(other, Message) and self.fields == other.fields

    def __repr__(self):
        inner = ", ".join(f"{f.name}={f.value!r}" if f.type == FieldType.STRING
                          else f"({int(f.type)}){f.name}={f.value!r}" for f in self.fields)
        return f"Message({inner})"

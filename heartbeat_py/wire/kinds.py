"""One dataclass per message kind heartbeat 3.0.6 exchanges, each building and reading
its fields in the order 3.0.6 puts them on the wire (before the control fields that
envelope.stamp appends). `parse(msg)` turns a received message into its kind.

Number formats differ by field, as in 3.0.6: seq-like values are hex, except the
retransmit request's firstseq/lastseq (decimal); protocol and ttl are decimal.
"""
import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from . import fields as F
from .errors import Garbled
from .message import Message


@dataclass(frozen=True)
class _Codec:
    encode: object
    decode: object


TEXT = _Codec(str, str)
HEX = _Codec(lambda v: "%x" % v, lambda s: int(s, 16))
DEC = _Codec(lambda v: "%d" % v, int)
FLAG = _Codec(lambda v: "1" if v else "0", lambda s: s == "1")
YESNO = _Codec(lambda v: "yes" if v else "no", lambda s: s == "yes")
# heartbeat writes each name followed by a space, and a lone space for none
NODES = _Codec(lambda v: "".join(n + " " for n in v) or " ", lambda s: tuple(s.split()))

_T = "t"   # marks where the type field goes in a layout


class Kind:
    """Base: subclasses are frozen dataclasses with TYPE and LAYOUT
    (a tuple of (attribute, wire name, codec), with _T where `t` goes)."""

    TYPE: ClassVar[str] = ""
    LAYOUT: ClassVar[tuple] = ((_T, F.F_TYPE, TEXT),)

    def to_message(self):
        msg = Message()
        for attr, name, codec in self.LAYOUT:
            if attr == _T:
                msg.add(name, self.TYPE)
                continue
            value = getattr(self, attr)
            if value is not None:
                msg.add(name, codec.encode(value))
        return msg

    @classmethod
    def from_message(cls, msg):
        if msg.get(F.F_TYPE) != cls.TYPE:
            raise Garbled(f"not a {cls.TYPE} message")
        optional = {f.name for f in dataclasses.fields(cls)
                    if f.default is not dataclasses.MISSING}
        values = {}
        for attr, name, codec in cls.LAYOUT:
            if attr == _T:
                continue
            raw = msg.get(name)
            if raw is None:
                if attr not in optional:
                    raise Garbled(f"{cls.TYPE} message without {name}")
                values[attr] = None
                continue
            if not isinstance(raw, str):
                raise Garbled(f"{cls.TYPE}: field {name} is not a string")
            try:
                values[attr] = codec.decode(raw)
            except ValueError:
                raise Garbled(f"{cls.TYPE}: bad {name}={raw!r}") from None
        return cls(**values)


@dataclass(frozen=True)
class Status(Kind):
    """The keepalive. dt: the sender's deadtime in ms as its peers should apply it;
    protocol present means the sender runs the NS_ackmsg flow control."""

    TYPE: ClassVar[str] = F.T_STATUS
    LAYOUT: ClassVar[tuple] = ((_T, F.F_TYPE, TEXT), ("st", F.F_STATUS, TEXT),
                               ("dt", F.F_DT, HEX), ("protocol", F.F_PROTOCOL, DEC))
    st: str
    dt: int | None = None
    protocol: int | None = F.PROTOCOL_VERSION


@dataclass(frozen=True)
class Ack(Kind):
    """NS_ackmsg: `dest`'s messages up to `ackseq` have arrived here."""

    TYPE: ClassVar[str] = F.T_ACKMSG
    LAYOUT: ClassVar[tuple] = ((_T, F.F_TYPE, TEXT), ("dest", F.F_TO, TEXT),
                               ("ackseq", F.F_ACKSEQ, HEX))
    dest: str
    ackseq: int


@dataclass(frozen=True)
class RexmitRequest(Kind):
    """NS_rexmit: please send your packets firstseq..lastseq again (decimal!)."""

    TYPE: ClassVar[str] = F.T_REXMIT
    LAYOUT: ClassVar[tuple] = ((_T, F.F_TYPE, TEXT), ("dest", F.F_TO, TEXT),
                               ("firstseq", F.F_FIRSTSEQ, DEC), ("lastseq", F.F_LASTSEQ, DEC))
    dest: str
    firstseq: int
    lastseq: int


@dataclass(frozen=True)
class NakRexmit(Kind):
    """NS_nak_rexmit: packet firstseq (hex) cannot be sent again; info says why."""

    TYPE: ClassVar[str] = F.T_NAKREXMIT
    LAYOUT: ClassVar[tuple] = ((_T, F.F_TYPE, TEXT), ("firstseq", F.F_FIRSTSEQ, HEX),
                               ("dest", F.F_TO, TEXT), ("info", F.F_COMMENT, TEXT))
    firstseq: int
    dest: str | None = None
    info: str | None = None


@dataclass(frozen=True)
class ReqNodes(Kind):
    TYPE: ClassVar[str] = F.T_REQNODES
    LAYOUT: ClassVar[tuple] = ((_T, F.F_TYPE, TEXT), ("dest", F.F_TO, TEXT))
    dest: str


@dataclass(frozen=True)
class RepNodes(Kind):
    """Answer to reqnodes. The asker drops from its own configuration every node
    missing from `nodelist`, so it must name all nodes."""

    TYPE: ClassVar[str] = F.T_REPNODES
    LAYOUT: ClassVar[tuple] = (("dest", F.F_TO, TEXT), (_T, F.F_TYPE, TEXT),
                               ("nodelist", F.F_NODELIST, NODES),
                               ("delnodelist", F.F_DELNODELIST, NODES))
    dest: str
    nodelist: tuple
    delnodelist: tuple | None = ()


@dataclass(frozen=True)
class Starting(Kind):
    """nice_failback start: asks the peers for a resource message."""

    TYPE: ClassVar[str] = F.T_STARTING


@dataclass(frozen=True)
class Resources(Kind):
    """T_RESOURCES (`resource`): which resource set the sender holds. The daemon's
    own form has rtype=full and isstable; the mach_down and standby scripts send
    only rsc_hold and info."""

    TYPE: ClassVar[str] = F.T_RESOURCES
    LAYOUT: ClassVar[tuple] = ((_T, F.F_TYPE, TEXT), ("rsc_hold", F.F_RESOURCES, TEXT),
                               ("rtype", F.F_RTYPE, TEXT), ("stable", F.F_ISSTABLE, FLAG),
                               ("info", F.F_COMMENT, TEXT))
    rsc_hold: str
    rtype: str | None = None
    stable: bool | None = None
    info: str | None = None

    @classmethod
    def held(cls, rsc_hold, stable, info=None):
        """What 3.0.6's hb_send_resources_held sends."""
        return cls(rsc_hold, "full", stable, info)


@dataclass(frozen=True)
class AskResources(Kind):
    """The standby protocol: info=me (I want to go standby), other (go ahead, I take
    them), done (finished releasing/acquiring)."""

    TYPE: ClassVar[str] = F.T_ASKRESOURCES
    LAYOUT: ClassVar[tuple] = ((_T, F.F_TYPE, TEXT), ("rsc_hold", F.F_RESOURCES, TEXT),
                               ("info", F.F_COMMENT, TEXT))
    rsc_hold: str
    info: str


@dataclass(frozen=True)
class IpRequest(Kind):
    TYPE: ClassVar[str] = F.T_ASKRELEASE
    LAYOUT: ClassVar[tuple] = ((_T, F.F_TYPE, TEXT), ("ipaddr", F.F_IPADDR, TEXT))
    ipaddr: str


@dataclass(frozen=True)
class IpRequestResp(Kind):
    TYPE: ClassVar[str] = F.T_ACKRELEASE
    LAYOUT: ClassVar[tuple] = ((_T, F.F_TYPE, TEXT), ("dest", F.F_TO, TEXT),
                               ("ipaddr", F.F_IPADDR, TEXT), ("weown", F.F_WEOWN, YESNO),
                               ("ok", F.F_OK, TEXT))
    dest: str
    ipaddr: str
    weown: bool
    ok: str = "OK"


@dataclass(frozen=True)
class Takeover(Kind):
    """hb_takeover's request: the receiver runs hb_standby for the mirror set."""

    TYPE: ClassVar[str] = F.T_TAKEOVER
    LAYOUT: ClassVar[tuple] = ((_T, F.F_TYPE, TEXT), ("rsc_hold", F.F_RESOURCES, TEXT))
    rsc_hold: str = F.RSC_ALL


@dataclass(frozen=True)
class ShutDone(Kind):
    """Last word of a graceful stop: all resources released."""

    TYPE: ClassVar[str] = F.T_SHUTDONE
    LAYOUT: ClassVar[tuple] = ((_T, F.F_TYPE, TEXT), ("st", F.F_STATUS, TEXT))
    st: str = F.STATUS_DEAD


@dataclass(frozen=True)
class Stonith(Kind):
    TYPE: ClassVar[str] = F.T_STONITH
    LAYOUT: ClassVar[tuple] = ((_T, F.F_TYPE, TEXT), ("node", F.F_NODE, TEXT),
                               ("result", F.F_APIRESULT, TEXT))
    node: str
    result: str


@dataclass(frozen=True)
class QueryClientStatus(Kind):
    """`cl_status clientstatus NODE CLIENT` on a 3.0.6 node asks NODE this way."""

    TYPE: ClassVar[str] = F.T_QCSTATUS
    LAYOUT: ClassVar[tuple] = ((_T, F.F_TYPE, TEXT), ("dest", F.F_TO, TEXT),
                               ("client", F.F_CLIENTNAME, TEXT), ("from_id", F.F_FROMID, TEXT))
    client: str
    from_id: str
    dest: str | None = None


@dataclass(frozen=True)
class ClientStatus(Kind):
    """The answer: `online` or `offline`, to the asking client (`to_id`)."""

    TYPE: ClassVar[str] = F.T_RCSTATUS
    LAYOUT: ClassVar[tuple] = ((_T, F.F_TYPE, TEXT), ("dest", F.F_TO, TEXT),
                               ("result", F.F_APIRESULT, TEXT), ("client", F.F_CLIENTNAME, TEXT),
                               ("to_id", F.F_TOID, TEXT), ("status", F.F_CLIENTSTATUS, TEXT))
    dest: str
    client: str
    to_id: str
    status: str
    result: str = "OK"


KINDS = {k.TYPE: k for k in (Status, Ack, RexmitRequest, NakRexmit, ReqNodes, RepNodes,
                             Starting, Resources, AskResources, IpRequest, IpRequestResp,
                             Takeover, ShutDone, Stonith, QueryClientStatus, ClientStatus)}


def parse(msg):
    """The kind object for a received message, None for a type we do not model;
    Garbled when a known type lacks a field or has a malformed one."""
    kind = KINDS.get(msg.get(F.F_TYPE))
    return None if kind is None else kind.from_message(msg)

"""DRBD's state machine: connection states, roles, disk states (names and order exactly as
DRBD 8 has them), one volume's state, and the rules that sanitize and validate a change.

The rules follow DRBD 8.3's sanitize_state(), is_valid_state() and
is_valid_state_transition(); the SS_* codes and texts are those drbdsetup prints, and
drbdadm's exit code for each comes from drbdsetup's mapping (state_exit_code()).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, replace


class Conn(enum.IntEnum):
    StandAlone = 0
    Disconnecting = 1
    Unconnected = 2
    Timeout = 3
    BrokenPipe = 4
    NetworkFailure = 5
    ProtocolError = 6
    TearDown = 7
    WFConnection = 8
    WFReportParams = 9
    Connected = 10
    StartingSyncS = 11
    StartingSyncT = 12
    WFBitMapS = 13
    WFBitMapT = 14
    WFSyncUUID = 15
    SyncSource = 16
    SyncTarget = 17
    VerifyS = 18
    VerifyT = 19
    PausedSyncS = 20
    PausedSyncT = 21
    Ahead = 22
    Behind = 23


class Role(enum.IntEnum):
    Unknown = 0
    Primary = 1
    Secondary = 2


class Disk(enum.IntEnum):
    Diskless = 0
    Attaching = 1
    Failed = 2
    Negotiating = 3
    Inconsistent = 4
    Outdated = 5
    DUnknown = 6
    Consistent = 7
    UpToDate = 8


SYNCING = (Conn.SyncSource, Conn.SyncTarget, Conn.PausedSyncS, Conn.PausedSyncT)
NETWORK_ERRORS = (Conn.Timeout, Conn.BrokenPipe, Conn.NetworkFailure, Conn.ProtocolError,
                  Conn.TearDown)

# --- state change results (SS_*) ---------------------------------------------------------
SS_SUCCESS = 1
SS_NOTHING_TO_DO = 2
SS_TWO_PRIMARIES = -1
SS_NO_UP_TO_DATE_DISK = -2
SS_NO_LOCAL_DISK = -4
SS_NO_REMOTE_DISK = -5
SS_CONNECTED_OUTDATES = -6
SS_PRIMARY_NOP = -7
SS_RESYNC_RUNNING = -8
SS_ALREADY_STANDALONE = -9
SS_CW_FAILED_BY_PEER = -10
SS_IS_DISKLESS = -11
SS_DEVICE_IN_USE = -12
SS_NO_NET_CONFIG = -13
SS_NO_VERIFY_ALG = -14
SS_NEED_CONNECTION = -15
SS_LOWER_THAN_OUTDATED = -16
SS_NOT_SUPPORTED = -17
SS_IN_TRANSIENT_STATE = -18
SS_CONCURRENT_ST_CHG = -19

SS_TEXT = {
    SS_TWO_PRIMARIES: "Multiple primaries not allowed by config",
    SS_NO_UP_TO_DATE_DISK: "Need access to UpToDate data",
    SS_NO_LOCAL_DISK: "Can not resync without local disk",
    SS_NO_REMOTE_DISK: "Can not resync without remote disk",
    SS_CONNECTED_OUTDATES: "Refusing to be Outdated while Connected",
    SS_PRIMARY_NOP: "Refusing to be Primary while peer is not outdated",
    SS_RESYNC_RUNNING: "Can not start OV/resync since it is already active",
    SS_ALREADY_STANDALONE: "Can not disconnect a StandAlone device",
    SS_CW_FAILED_BY_PEER: "State change was refused by peer node",
    SS_IS_DISKLESS: "Device is diskless, the requested operation requires a disk",
    SS_DEVICE_IN_USE: "Device is held open by someone",
    SS_NO_NET_CONFIG: "Have no net/connection configuration",
    SS_NO_VERIFY_ALG: "Need a verify algorithm to start online verify",
    SS_NEED_CONNECTION: "Need a connection to start verify or resync",
    SS_NOT_SUPPORTED: "Peer does not support protocol",
    SS_LOWER_THAN_OUTDATED: "Disk state is lower than outdated",
    SS_IN_TRANSIENT_STATE: "In transient state, retry after next state change",
    SS_CONCURRENT_ST_CHG: "Concurrent state changes detected and aborted",
}


def state_exit_code(rv: int) -> int:
    """drbdsetup's exit status for a refused state change."""
    return {SS_NO_UP_TO_DATE_DISK: 17, SS_LOWER_THAN_OUTDATED: 5,
            SS_NO_LOCAL_DISK: 16}.get(rv, 11)


@dataclass(frozen=True)
class State:
    role: Role = Role.Secondary
    peer: Role = Role.Unknown
    conn: Conn = Conn.StandAlone
    disk: Disk = Disk.Diskless
    pdsk: Disk = Disk.DUnknown
    susp: bool = False
    user_isp: bool = False
    peer_isp: bool = False
    aftr_isp: bool = False

    def with_(self, **changes) -> "State":
        return replace(self, **changes)

    @property
    def isp(self) -> bool:
        return self.user_isp or self.peer_isp or self.aftr_isp

    def short(self) -> str:
        """The `{ cs:.. st:.. ds:.. r--- }` form DRBD logs for refused changes."""
        flags = ("s" if self.susp else "r") + ("a" if self.aftr_isp else "-") + \
                ("p" if self.peer_isp else "-") + ("u" if self.user_isp else "-")
        return (f"{{ cs:{self.conn.name} st:{self.role.name}/{self.peer.name} "
                f"ds:{self.disk.name}/{self.pdsk.name} {flags} }}")


@dataclass(frozen=True)
class Policy:
    """What the rules need besides the states."""
    two_primaries: bool = False
    fencing: str = "dont-care"          # dont-care | resource-only | resource-and-stonith
    verify_alg: str = ""
    open_count: int = 0                 # device users (NBD clients, mounted /dev/drbdN)


def describe(old: State, new: State) -> str:
    """`role( A -> B ) conn( ... )`: the kernel's log line for a state change."""
    parts = []
    for name in ("role", "peer", "conn", "disk", "pdsk"):
        a, b = getattr(old, name), getattr(new, name)
        if a != b:
            parts.append(f"{name}( {a.name} -> {b.name} )")
    for name, label in (("susp", "susp"), ("aftr_isp", "aftr_isp"), ("peer_isp", "peer_isp"),
                        ("user_isp", "user_isp")):
        a, b = getattr(old, name), getattr(new, name)
        if a != b:
            parts.append(f"{label}( {int(a)} -> {int(b)} )")
    return " ".join(parts)


def sanitize(old: State, new: State, policy: Policy) -> State:
    """Implied changes, as DRBD's sanitize_state()."""
    s = new
    # a network error cannot configure the network part of a StandAlone device
    if s.conn in NETWORK_ERRORS and old.conn <= Conn.Disconnecting:
        s = s.with_(conn=old.conn)
    # after a network error only Unconnected or Disconnecting may follow
    if old.conn in NETWORK_ERRORS and s.conn not in (Conn.Unconnected, Conn.Disconnecting) \
            and s.conn <= Conn.Connected:
        s = s.with_(conn=old.conn)
    if s.disk == Disk.Failed and old.disk == Disk.Diskless:
        s = s.with_(disk=Disk.Diskless)
    if old.conn == Conn.Disconnecting and s.conn != Conn.StandAlone:
        s = s.with_(conn=old.conn)
    if s.conn < Conn.Connected:
        pdsk = s.pdsk
        if pdsk > Disk.DUnknown or pdsk < Disk.Inconsistent:
            pdsk = Disk.DUnknown
        s = s.with_(peer_isp=False, peer=Role.Unknown, pdsk=pdsk)
    if s.conn == Conn.StandAlone and s.disk == Disk.Diskless and s.role == Role.Secondary:
        s = s.with_(aftr_isp=False)
    # a disk failing or going away ends a resync
    if old.conn > Conn.Connected and s.conn > Conn.Connected and \
            (s.disk <= Disk.Failed or s.pdsk <= Disk.Failed):
        s = s.with_(conn=Conn.Connected)
    # Consistent and Outdated vanish on connect
    if Conn.Connected <= s.conn < Conn.Ahead:
        if s.disk in (Disk.Consistent, Disk.Outdated):
            s = s.with_(disk=Disk.UpToDate)
        if s.pdsk in (Disk.Consistent, Disk.Outdated):
            s = s.with_(pdsk=Disk.UpToDate)
    disk_min, disk_max = Disk.Diskless, Disk.UpToDate
    pdsk_min, pdsk_max = Disk.Inconsistent, Disk.DUnknown
    c = s.conn
    if c in (Conn.WFBitMapT, Conn.PausedSyncT, Conn.StartingSyncT, Conn.WFSyncUUID,
             Conn.Behind):
        disk_min, disk_max, pdsk_min, pdsk_max = (Disk.Inconsistent, Disk.Outdated,
                                                  Disk.UpToDate, Disk.UpToDate)
    elif c in (Conn.VerifyS, Conn.VerifyT):
        disk_min = disk_max = pdsk_min = pdsk_max = Disk.UpToDate
    elif c == Conn.Connected:
        disk_min, disk_max, pdsk_min, pdsk_max = (Disk.Diskless, Disk.UpToDate,
                                                  Disk.Diskless, Disk.UpToDate)
    elif c in (Conn.WFBitMapS, Conn.PausedSyncS, Conn.StartingSyncS, Conn.Ahead):
        disk_min, disk_max, pdsk_min, pdsk_max = (Disk.UpToDate, Disk.UpToDate,
                                                  Disk.Inconsistent, Disk.Consistent)
    elif c == Conn.SyncTarget:
        disk_min, disk_max, pdsk_min, pdsk_max = (Disk.Inconsistent, Disk.Inconsistent,
                                                  Disk.UpToDate, Disk.UpToDate)
    elif c == Conn.SyncSource:
        disk_min, disk_max, pdsk_min, pdsk_max = (Disk.UpToDate, Disk.UpToDate,
                                                  Disk.Inconsistent, Disk.Inconsistent)
    disk = min(max(s.disk, disk_min), disk_max)
    pdsk = min(max(s.pdsk, pdsk_min), pdsk_max)
    s = s.with_(disk=Disk(disk), pdsk=Disk(pdsk))
    if s.isp:
        if s.conn == Conn.SyncSource:
            s = s.with_(conn=Conn.PausedSyncS)
        elif s.conn == Conn.SyncTarget:
            s = s.with_(conn=Conn.PausedSyncT)
    else:
        if s.conn == Conn.PausedSyncS:
            s = s.with_(conn=Conn.SyncSource)
        elif s.conn == Conn.PausedSyncT:
            s = s.with_(conn=Conn.SyncTarget)
    return s


def validate(s: State, policy: Policy) -> int:
    """SS_SUCCESS or why `s` is not a state a volume may be in (is_valid_state())."""
    if not policy.two_primaries and s.role == Role.Primary and s.peer == Role.Primary:
        return SS_TWO_PRIMARIES
    if s.role == Role.Secondary and policy.open_count:
        return SS_DEVICE_IN_USE
    if s.role == Role.Primary and s.conn < Conn.Connected and s.disk < Disk.UpToDate:
        return SS_NO_UP_TO_DATE_DISK
    if policy.fencing != "dont-care" and s.role == Role.Primary and \
            s.conn < Conn.Connected and s.pdsk >= Disk.DUnknown:
        return SS_PRIMARY_NOP
    if s.role == Role.Primary and s.disk <= Disk.Inconsistent and s.pdsk <= Disk.Inconsistent:
        return SS_NO_UP_TO_DATE_DISK
    if s.conn > Conn.Connected and s.disk < Disk.Inconsistent:
        return SS_NO_LOCAL_DISK
    if s.conn > Conn.Connected and s.pdsk < Disk.Inconsistent:
        return SS_NO_REMOTE_DISK
    if s.conn > Conn.Connected and s.disk < Disk.UpToDate and s.pdsk < Disk.UpToDate:
        return SS_NO_UP_TO_DATE_DISK
    if s.conn in (Conn.Connected, Conn.WFBitMapS, Conn.SyncSource, Conn.PausedSyncS) and \
            s.disk == Disk.Outdated:
        return SS_CONNECTED_OUTDATES
    if s.conn in (Conn.VerifyS, Conn.VerifyT) and not policy.verify_alg:
        return SS_NO_VERIFY_ALG
    if s.role == Role.Primary and s.disk < Disk.UpToDate and s.pdsk < Disk.UpToDate:
        return SS_NO_UP_TO_DATE_DISK
    if s.conn in (Conn.StartingSyncS, Conn.StartingSyncT) and s.pdsk == Disk.DUnknown:
        return SS_NEED_CONNECTION
    if s.conn >= Conn.Connected and s.pdsk == Disk.DUnknown:
        return SS_CONNECTED_OUTDATES
    return SS_SUCCESS


def validate_transition(old: State, new: State) -> int:
    """SS_SUCCESS or why old -> new may not happen (is_valid_state_transition())."""
    rv = SS_SUCCESS
    if new.conn in (Conn.StartingSyncT, Conn.StartingSyncS) and old.conn > Conn.Connected:
        rv = SS_RESYNC_RUNNING
    if new.conn == Conn.Disconnecting and old.conn == Conn.StandAlone:
        rv = SS_ALREADY_STANDALONE
    if new.disk > Disk.Attaching and old.disk == Disk.Diskless:
        rv = SS_IS_DISKLESS
    if new.conn == Conn.WFConnection and old.conn < Conn.Unconnected:
        rv = SS_NO_NET_CONFIG
    if new.disk == Disk.Outdated and old.disk < Disk.Outdated and old.disk != Disk.Attaching:
        rv = SS_LOWER_THAN_OUTDATED
    if new.conn == Conn.Disconnecting and old.conn == Conn.Unconnected:
        rv = SS_IN_TRANSIENT_STATE
    if new.conn in (Conn.VerifyS, Conn.VerifyT) and old.conn < Conn.Connected:
        rv = SS_NEED_CONNECTION
    if new.conn in (Conn.VerifyS, Conn.VerifyT) and new.conn != old.conn and \
            old.conn > Conn.Connected:
        rv = SS_RESYNC_RUNNING
    if new.conn in (Conn.StartingSyncS, Conn.StartingSyncT) and old.conn < Conn.Connected:
        rv = SS_NEED_CONNECTION
    if new.conn in (Conn.SyncTarget, Conn.SyncSource) and old.conn < Conn.WFReportParams:
        rv = SS_NEED_CONNECTION
    return rv


def check(old: State, new: State, policy: Policy, hard: bool = False) -> int:
    """Whether a requested change may happen; `hard` changes (network errors, the
    receiver's decisions) skip the checks, as DRBD's CS_HARD."""
    if hard:
        return SS_SUCCESS
    rv = validate(new, policy)
    if rv < SS_SUCCESS:
        # an already invalid state may stay invalid in the same way
        if validate(old, policy) == rv:
            return validate_transition(old, new)
        return rv
    return validate_transition(old, new)

"""The sync handshake: what a volume does when it meets its peer — nothing, resync from or
to the peer (by bitmap or in full), or drop the connection (split brain, unrelated data,
a role conflict).  DRBD 8's drbd_sync_handshake() and its after-split-brain policies,
as a pure function: both nodes run it on the same facts and reach mirrored answers."""
from __future__ import annotations

from dataclasses import dataclass, field

from .states import Disk, Role
from .uuids import UNRELATED, GenIds, compare


@dataclass
class Side:
    gen: GenIds
    disk: Disk
    role: Role
    bits: int = 0                      # bits set in its bitmap
    crashed_primary: bool = False
    discard_my_data: bool = False


@dataclass
class Policies:
    after_sb_0pri: str = "disconnect"
    after_sb_1pri: str = "disconnect"
    after_sb_2pri: str = "disconnect"
    rr_conflict: str = "disconnect"
    always_asbp: bool = False


@dataclass
class Decision:
    hg: int = 0                        # 0 none, 1/-1 by bitmap, 2/-2 full; + = we are source
    rule: int = 0
    disconnect: bool = False
    messages: list[tuple[str, str]] = field(default_factory=list)
    handlers: list[str] = field(default_factory=list)
    local_gen: GenIds | None = None
    peer_gen: GenIds | None = None

    def say(self, level: str, text: str) -> None:
        self.messages.append((level, text))

    @property
    def full(self) -> bool:
        return abs(self.hg) >= 2


def _recover_0p(policy: str, me: Side, peer: Side, resolve: bool, d: Decision) -> int:
    self_pri = me.gen.bitmap & 1
    peer_pri = peer.gen.bitmap & 1
    ch_self, ch_peer = me.bits, peer.bits
    tie = -1 if resolve else 1
    if policy in ("consensus", "discard-secondary", "call-pri-lost-after-sb"):
        d.say("err", "Configuration error.")
        return -100
    if policy == "disconnect":
        return -100
    if policy == "discard-local":
        return -1
    if policy == "discard-remote":
        return 1
    if policy in ("discard-younger-primary", "discard-older-primary"):
        younger = policy == "discard-younger-primary"
        if self_pri == 0 and peer_pri == 1:
            return -1 if younger else 1
        if self_pri == 1 and peer_pri == 0:
            return 1 if younger else -1
        d.say("warn", "Discard younger/older primary did not find a decision\n"
                      "Using discard-least-changes instead")
        policy = "discard-least-changes"
    if policy == "discard-zero-changes":
        if ch_peer == 0 and ch_self == 0:
            return tie
        if ch_peer == 0:
            return 1
        if ch_self == 0:
            return -1
        return -100
    if policy == "discard-least-changes":
        if ch_self < ch_peer:
            return -1
        if ch_self > ch_peer:
            return 1
        return tie
    return -100


def _recover_1p(policies: Policies, me: Side, peer: Side, resolve: bool, d: Decision,
                try_secondary) -> int:
    policy = policies.after_sb_1pri
    if policy in ("discard-younger-primary", "discard-older-primary",
                  "discard-least-changes", "discard-local", "discard-remote",
                  "discard-zero-changes"):
        d.say("err", "Configuration error.")
        return -100
    if policy == "disconnect":
        return -100
    hg = _recover_0p(policies.after_sb_0pri, me, peer, resolve, d)
    if policy == "consensus":
        if (hg == -1 and me.role == Role.Secondary) or (hg == 1 and me.role == Role.Primary):
            return hg
        return -100
    if policy == "violently-as0p":
        return hg
    if policy == "discard-secondary":
        return 1 if me.role == Role.Primary else -1
    if policy == "call-pri-lost-after-sb":
        return _give_up_primary(hg, me, d, try_secondary)
    return -100


def _recover_2p(policies: Policies, me: Side, peer: Side, resolve: bool, d: Decision,
                try_secondary) -> int:
    policy = policies.after_sb_2pri
    if policy == "violently-as0p":
        return _recover_0p(policies.after_sb_0pri, me, peer, resolve, d)
    if policy == "call-pri-lost-after-sb":
        hg = _recover_0p(policies.after_sb_0pri, me, peer, resolve, d)
        return _give_up_primary(hg, me, d, try_secondary)
    if policy != "disconnect":
        d.say("err", "Configuration error.")
    return -100


def _give_up_primary(hg: int, me: Side, d: Decision, try_secondary) -> int:
    if hg == -1 and me.role == Role.Primary:
        if try_secondary():
            d.say("warn", "Successfully gave up primary role.")
            return hg
        d.handlers.append("pri-lost-after-sb")
        return -100
    return hg


def sync_handshake(me: Side, peer: Side, *, peer_flags: int, resolve_conflicts: bool,
                   policies: Policies, try_secondary=lambda: False) -> Decision:
    d = Decision()
    r = compare(me.gen, peer.gen, local_crashed_primary=me.crashed_primary,
                peer_flags=peer_flags, resolve_conflicts=resolve_conflicts)
    d.local_gen, d.peer_gen, d.rule = r.local, r.peer, r.rule
    hg = r.hg
    d.say("info", f"uuid_compare()={hg} by rule {r.rule}")
    if hg == UNRELATED:
        d.say("alert", "Unrelated data, aborting!")
        d.disconnect, d.hg = True, hg
        return d
    if (me.disk == Disk.Inconsistent and peer.disk > Disk.Inconsistent) or \
            (peer.disk == Disk.Inconsistent and me.disk > Disk.Inconsistent):
        full = hg == -100 or abs(hg) == 2
        hg = 1 if me.disk > Disk.Inconsistent else -1
        if full:
            hg *= 2
        d.say("info", f"Becoming sync {'source' if hg > 0 else 'target'} due to disk states.")
    if abs(hg) == 100:
        d.handlers.append("initial-split-brain")
    if hg == 100 or (hg == -100 and policies.always_asbp):
        forced = hg == -100
        pcount = (me.role == Role.Primary) + (peer.role == Role.Primary)
        if pcount == 0:
            hg = _recover_0p(policies.after_sb_0pri, me, peer, resolve_conflicts, d)
        elif pcount == 1:
            hg = _recover_1p(policies, me, peer, resolve_conflicts, d, try_secondary)
        else:
            hg = _recover_2p(policies, me, peer, resolve_conflicts, d, try_secondary)
        if abs(hg) < 100:
            d.say("warn", f"Split-Brain detected, {pcount} primaries, automatically solved. "
                          f"Sync from {'peer' if hg < 0 else 'this'} node")
            if forced:
                d.say("warn", "Doing a full sync, since UUIDs where ambiguous.")
                hg *= 2
    if hg == -100:
        if me.discard_my_data and not peer.discard_my_data:
            hg = -1
        elif not me.discard_my_data and peer.discard_my_data:
            hg = 1
        if abs(hg) < 100:
            # with only shared history (rule 100) the bitmaps do not cover all the
            # differences: resolve by hand with a full sync
            if r.rule == 100:
                hg *= 2
            d.say("warn", f"Split-Brain detected, manually solved. "
                          f"Sync from {'peer' if hg < 0 else 'this'} node")
    if hg == -100:
        d.say("alert", "Split-Brain detected but unresolved, dropping connection!")
        d.handlers.append("split-brain")
        d.disconnect, d.hg = True, hg
        return d
    if hg > 0 and me.disk <= Disk.Inconsistent:
        d.say("err", "I shall become SyncSource, but I am inconsistent!")
        d.disconnect, d.hg = True, hg
        return d
    if hg < 0 and me.role == Role.Primary and me.disk >= Disk.Consistent:
        if policies.rr_conflict == "call-pri-lost":
            d.handlers.append("pri-lost")
        if policies.rr_conflict in ("call-pri-lost", "disconnect"):
            d.say("err", "I shall become SyncTarget, but I am primary!")
            d.disconnect, d.hg = True, hg
            return d
        d.say("warn", "Becoming SyncTarget, violating the stable-data assumption")
    if abs(hg) >= 2:
        d.say("info", "Writing the whole bitmap, full sync required after drbd_sync_handshake.")
    if hg == 0 and me.bits:
        d.say("info", f"No resync, but {me.bits} bits in bitmap!")
    d.hg = hg
    return d

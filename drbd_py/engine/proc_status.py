"""The status text in DRBD 8.2's /proc/drbd format (cs/st/ds line, counters, resync
progress bar).  The engine writes it to <rundir>/proc-drbd; `drbdadm status`,
`drbd-overview` and scripts read it there (/proc/drbd itself belongs to the kernel)."""
from __future__ import annotations

from .states import Conn, Disk, Role

VERSION_LINE = "version: 8.2.7 (api:88/proto:86-88)"
BUILD_LINE = "GIT-hash: drbd-py-engine build by drbd-py"


def _thousands(n: int) -> str:
    return f"{n // 1000},{n % 1000:03d}" if n > 1000 else str(n)


def _progress(vol) -> list[str]:
    sync = vol.sync
    total = max(sync.progress.total_bits, 1)
    left = min(sync.left(), total)
    if vol.state.conn in (Conn.VerifyS, Conn.VerifyT):
        done = total - left
        return [f"\t{done * 100 // (total // 100 + 1):3d}%      {done}/{total}"]
    permille = (total - left) * 1000 // total
    x = permille // 50
    bar = "=" * max(x - 1, 0) + ">" + "." * (20 - x)
    if total > 0x100000:
        amounts = f"({left * 4 >> 10}/{total * 4 >> 10})M"
    else:
        amounts = f"({left * 4}/{total * 4})K"
    recent, average, eta = sync.progress.speeds(left)
    return [f"\t[{bar}] sync'ed:{permille // 10:3d}.{permille % 10}% {amounts}",
            f"\tfinish: {eta // 3600}:{eta % 3600 // 60:02d}:{eta % 60:02d} "
            f"speed: {_thousands(recent)} ({_thousands(average)}) K/sec"]


def volume_lines(vol, protocol: str | None) -> list[str]:
    s = vol.state
    if s.conn == Conn.StandAlone and s.disk == Disk.Diskless and s.role == Role.Secondary:
        return [f"{vol.minor:2d}: cs:Unconfigured"]
    flags = ("s" if s.susp else "r") + ("a" if s.aftr_isp else "-") + \
            ("p" if s.peer_isp else "-") + ("u" if s.user_isp else "-")
    c = vol.counters
    oos = vol.bitmap.weight * 4 if vol.bitmap else 0
    lines = [f"{vol.minor:2d}: cs:{s.conn.name} st:{s.role.name}/{s.peer.name} "
             f"ds:{s.disk.name}/{s.pdsk.name} {protocol or ' '} {flags}",
             f"    ns:{c.ns // 1024} nr:{c.nr // 1024} dw:{c.dw // 1024} dr:{c.dr // 1024} "
             f"al:{c.al} bm:{c.bm} lo:{c.lo} pe:{max(c.pe, 0)} ua:{c.ua} ap:{c.ap} "
             f"ep:1 wo:f oos:{oos}"]
    if vol.sync is not None and s.conn in (Conn.SyncSource, Conn.SyncTarget, Conn.VerifyS,
                                           Conn.VerifyT):
        lines += _progress(vol)
    return lines


def render(resources) -> str:
    volumes = []
    for res in resources:
        protocol = res.net.protocol if res.net else None
        for vol in res.volumes.values():
            volumes.append((vol.minor, vol, protocol))
    out = [VERSION_LINE, BUILD_LINE]
    previous = -1          # DRBD leaves an empty line for every gap in the minors
    for minor, vol, protocol in sorted(volumes, key=lambda t: t[0]):
        if minor != previous + 1:
            out.append("")
        out += volume_lines(vol, protocol)
        previous = minor
    return "\n".join(out) + "\n"

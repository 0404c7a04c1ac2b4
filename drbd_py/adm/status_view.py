"""What `drbdadm role|state|cstate|dstate|status` print, from the engine's `status` reply.

Reply shape (docs/drbd-control.md): {"resources": [{"name", "role", "peer_role",
"connection", "volumes": [{"volume", "minor", "disk", "peer_disk", ...}]}]}.
A resource the engine does not know prints "Unconfigured", as drbdsetup did
for a minor that was not set up; scripts such as drbddisk rely on that.
"""
from __future__ import annotations

UNCONFIGURED = "Unconfigured"


def find(reply: dict, name: str) -> dict | None:
    for res in reply.get("resources", []):
        if res.get("name") == name:
            return res
    return None


def _volumes(res: dict, numbers: list[int] | None) -> list[dict]:
    vols = res.get("volumes") or [{}]
    if numbers is None:
        return vols
    return [v for v in vols if v.get("volume", 0) in numbers] or vols


def lines(command: str, res: dict | None, numbers: list[int] | None = None) -> list[str]:
    """Output lines of role/state, cstate or dstate for one resource (one per volume)."""
    if res is None:
        return [UNCONFIGURED]
    out = []
    for vol in _volumes(res, numbers):
        if command in ("role", "state"):
            out.append(f"{res.get('role', 'Unknown')}/{res.get('peer_role', 'Unknown')}")
        elif command == "cstate":
            out.append(res.get("connection", "StandAlone"))
        else:
            out.append(f"{vol.get('disk', 'Diskless')}/{vol.get('peer_disk', 'DUnknown')}")
    return out


def status_lines(name: str, res: dict | None, peer_name: str) -> list[str]:
    """The `drbdadm status` block of one resource (DRBD 8.4.x/9 layout)."""
    if res is None:
        return [f"{name}: No such resource"]
    out = [f"{name} role:{res.get('role', 'Unknown')}"]
    vols = res.get("volumes") or []
    several = len(vols) > 1
    for vol in vols:
        prefix = f"volume:{vol.get('volume', 0)} " if several else ""
        out.append(f"  {prefix}disk:{vol.get('disk', 'Diskless')}")
    connection = res.get("connection", "StandAlone")
    if connection in ("StandAlone",):
        out.append(f"  {peer_name} connection:{connection}")
        return out
    peer_role = res.get("peer_role", "Unknown")
    if connection == "Connected":
        out.append(f"  {peer_name} role:{peer_role}")
    else:
        out.append(f"  {peer_name} connection:{connection}")
    for vol in vols:
        prefix = f"volume:{vol.get('volume', 0)} " if several else ""
        extra = ""
        if "replication" in vol:
            extra = f"replication:{vol['replication']} "
        done = vol.get("done")
        tail = f" done:{done:.2f}" if isinstance(done, (int, float)) else ""
        out.append(f"    {prefix}{extra}peer-disk:{vol.get('peer_disk', 'DUnknown')}{tail}")
    return out

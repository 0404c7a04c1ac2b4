"""DRBD resources on two test nodes (alpha Primary, beta Secondary) driven as an admin
drives DRBD: /etc/drbd.conf, drbdadm, then the Primary's /dev/drbdN."""
import importlib.util
import json
import os
import stat
import time
from dataclasses import dataclass


def engine_missing() -> str:
    try:
        found = importlib.util.find_spec("drbd_py.engine.daemon")
    except ImportError as exc:
        return f"drbd_py.engine.daemon cannot be imported ({exc})"
    return "" if found else "our DRBD engine daemon (drbd_py.engine.daemon) has not landed yet"


@dataclass
class Res:
    name: str
    minor: int
    protocol: str
    port: int
    rate: str = "1000M"
    net: str = "ping-int 2; connect-int 2; timeout 15; ping-timeout 10;"
    disk_a: str = ""
    disk_b: str = ""

    def conf(self) -> str:
        return (f"resource {self.name} {{\n  protocol {self.protocol};\n"
                f"  syncer {{ rate {self.rate}; }}\n"
                f"  net {{ {self.net} }}\n"
                f"  on alpha {{ device /dev/drbd{self.minor}; disk {self.disk_a}; "
                f"address 192.0.2.11:{self.port}; meta-disk internal; }}\n"
                f"  on beta {{ device /dev/drbd{self.minor}; disk {self.disk_b}; "
                f"address 192.0.2.12:{self.port}; meta-disk internal; }}\n}}\n")


def drbdadm(node, args: str, timeout: float = 120, check: bool = True):
    return node.run(f"drbdadm {args}", timeout=timeout, check=check)


def status(node, res: str) -> dict:
    out = node.run(["drbdsetup-py", "status", res], check=False, timeout=30).stdout
    found = json.loads(out) if out.strip() else []
    return found[0] if found else {}


def volume(node, res: str) -> dict:
    return (status(node, res).get("volumes") or [{}])[0]


def wait_volume(node, res: str, timeout: float, **want) -> dict:
    """Poll the status of `res` on `node` until every `want` field matches."""
    end = time.monotonic() + timeout
    while True:
        v = volume(node, res)
        if all(v.get(k) == val for k, val in want.items()):
            return v
        if time.monotonic() > end:
            raise RuntimeError(f"{node.name}: {res}: no {want} after {timeout:.0f} s "
                               f"(now {({k: v.get(k) for k in want})})")
        time.sleep(0.05)


def is_block_device(node, path: str) -> bool:
    try:
        return stat.S_ISBLK(node.path(path).stat().st_mode)
    except OSError:
        return False


def setup(c, resources: list[Res], disk_size: str, sync_timeout: float = 300) -> None:
    """Write drbd.conf on both nodes, create-md, up, initial full sync from alpha, and
    wait until each Primary's /dev/drbdN is a block device."""
    a, b = c["alpha"], c["beta"]
    for r in resources:
        r.disk_a = r.disk_a or a.loop_device(disk_size, name=f"{r.name}")
        r.disk_b = r.disk_b or b.loop_device(disk_size, name=f"{r.name}")
    conf = "global { usage-count no; }\n" + "".join(r.conf() for r in resources)
    for n in (a, b):
        n.write_file("/etc/drbd.conf", conf)
        for r in resources:
            drbdadm(n, f"create-md {r.name}")
    for n in (a, b):
        drbdadm(n, "up all")
    for r in resources:
        wait_volume(a, r.name, 60, cstate="Connected")
        drbdadm(a, f"-- --overwrite-data-of-peer primary {r.name}")
    for r in resources:
        wait_volume(a, r.name, sync_timeout, cstate="Connected", disk="UpToDate",
                    peer_disk="UpToDate")
        end = time.monotonic() + 30
        while not is_block_device(a, f"/dev/drbd{r.minor}"):
            if time.monotonic() > end:
                raise RuntimeError(f"alpha: /dev/drbd{r.minor} is not a block device "
                                   f"after promotion")
            time.sleep(0.05)


def demote(node, res: str, timeout: float = 20) -> None:
    """`drbdadm secondary`, retried while the device is still held (a umount just done
    releases the loop device a moment later)."""
    end = time.monotonic() + timeout
    while True:
        p = drbdadm(node, f"secondary {res}", check=False)
        if p.returncode == 0:
            return
        if time.monotonic() > end:
            raise RuntimeError(f"{node.name}: drbdadm secondary {res}: {p.stderr.strip()}")
        time.sleep(0.1)


def make_secondary(node, res: str) -> str:
    """Leave `res` Secondary and in sync on `node`: `drbdadm secondary`, or when that is
    refused, what a crash and restart of the node's DRBD does (kill -9 the engine, `drbdadm
    up`).  Returns '' or why the restart was needed."""
    try:
        demote(node, res, timeout=3)
        return ""
    except RuntimeError as exc:
        why = str(exc)
    pid = int(node.read_file("/run/drbd-py/engine.pid").split()[0])
    node.run(["kill", "-9", str(pid)], check=False)
    end = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}"):
        if time.monotonic() > end:
            raise RuntimeError(f"{node.name}: engine {pid} did not die")
        time.sleep(0.02)
    drbdadm(node, f"up {res}")
    wait_volume(node, res, 60, cstate="Connected", disk="UpToDate", peer_disk="UpToDate")
    role = status(node, res).get("role")
    if role != "Secondary":
        raise RuntimeError(f"{node.name}: {res} is {role} after an engine restart")
    return why


def down(c) -> None:
    for name in ("alpha", "beta"):
        drbdadm(c[name], "down all", check=False)

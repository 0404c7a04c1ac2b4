"""Which host section is this machine: `on` by `uname -n`, `floating` by local address."""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from .model import Config, Host, Resource


def local_hostname() -> str:
    return os.uname().nodename


def local_addresses() -> set[str]:
    """Every IP address configured on this machine (in this network namespace)."""
    import psutil  # only floating sections need it

    found = set()
    for addrs in psutil.net_if_addrs().values():
        for addr in addrs:
            if addr.family in (socket.AF_INET, socket.AF_INET6):
                found.add(addr.address.split("%", 1)[0])
    return found


@dataclass
class Placement:
    """A resource as seen from this machine."""
    resource: Resource
    me: Host
    peers: list[Host]

    @property
    def peer(self) -> Host | None:
        """The one peer host section; None when there is none or it is ambiguous."""
        return self.peers[0] if len(self.peers) == 1 else None


class LocalView:
    """Matches resources to this machine; addresses are looked up only when needed."""

    def __init__(self, hostname: str | None = None, addresses: set[str] | None = None):
        self.hostname = hostname if hostname is not None else local_hostname()
        self._addresses = addresses

    @property
    def addresses(self) -> set[str]:
        if self._addresses is None:
            self._addresses = local_addresses()
        return self._addresses

    def me(self, res: Resource) -> Host | None:
        named = res.host_named(self.hostname)
        if named is not None:
            return named
        for host in res.hosts:
            if host.floating and host.address and host.address.host in self.addresses:
                return host
        return None

    def place(self, res: Resource) -> Placement | None:
        me = self.me(res)
        if me is None:
            return None
        return Placement(res, me, [host for host in res.hosts if host is not me])

    def mine(self, config: Config) -> list[Placement]:
        """The resources this machine takes part in, in file order."""
        return [p for p in (self.place(res) for res in config.resources) if p is not None]

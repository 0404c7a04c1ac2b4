"""The semantic checks drbdadm makes once the whole file is read."""
from __future__ import annotations

import ipaddress

from .errors import ConfigError
from .model import Config, Host, Resource, Where


def _error(where: Where | None, fallback: Where | None, message: str) -> ConfigError:
    place = where or fallback or Where("?", 0)
    return ConfigError(place.path, place.line, message)


def _check_host(res: Resource, host: Host) -> None:
    scope = f"in resource {res.name}, on {host.name} {{ ... }}"
    if host.address is None:
        raise _error(host.where, res.where, f"{scope}: 'address' keyword missing.")
    if not host.volumes:
        raise _error(host.where, res.where, f"{scope}: 'device' keyword missing.")
    for volume in host.volumes.values():
        where = host.where
        if volume.minor is None:
            raise _error(where, res.where, f"{scope}: 'device' keyword missing.")
        if volume.disk is None:
            raise _error(where, res.where, f"{scope}: 'disk' keyword missing.")
        if volume.meta_disk is None:
            raise _error(where, res.where, f"{scope}: 'meta-disk' keyword missing.")


def _check_resource(res: Resource, names: set[str]) -> None:
    if len(res.hosts) < 2:
        missing = "<PEER>" if res.hosts else "<HOST>"
        raise _error(res.where, None,
                     f"in resource {res.name}: Missing section 'on {missing} {{ ... }}'.")
    for host in res.hosts:
        _check_host(res, host)
    first = res.hosts[0]
    for host in res.hosts[1:]:
        missing = set(first.volumes) ^ set(host.volumes)
        if missing:
            raise _error(host.where, res.where, f"in resource {res.name}: volume {min(missing)} "
                         f"is not defined on both {first.name} and {host.name}")
    after = res.settings.disk.resync_after
    if after is not None and (after not in names or after == res.name):
        raise _error(res.where, None,
                     f"in resource {res.name}: resync-after refers to unknown resource '{after}'")


def _host_keys(host: Host) -> tuple[str, ...]:
    return host.names or (host.address.host_port if host.address else "?",)


def _claim(claims: dict, key, where: Where | None, what: str, shown: str) -> None:
    first = claims.get(key)
    if first is not None:
        raise _error(where, None, f"conflicting use of {what} '{shown}' (first used at {first})")
    claims[key] = where or Where("?", 0)


def _check_unique(config: Config) -> None:
    claims: dict = {}
    for res in config.resources:
        for host in res.hosts:
            for volume in host.volumes.values():
                for key in _host_keys(host):
                    _claim(claims, ("minor", key, volume.minor), volume.where,
                           "device-minor", f"device-minor:{key}:{volume.minor}")
                    if volume.device:
                        _claim(claims, ("device", key, volume.device), volume.where,
                               "device", f"device:{key}:{volume.device}")
            address = host.address
            if address is None:
                continue
            # Loopback addresses may repeat on different hosts; real ones never.
            if ipaddress.ip_address(address.host).is_loopback:
                for key in _host_keys(host):
                    _claim(claims, ("ip", key, address.host, address.port),
                           host.address_where or host.where, "IP", address.host_port)
            else:
                _claim(claims, ("ip", address.host, address.port),
                       host.address_where or host.where, "IP", address.host_port)


def check(config: Config) -> None:
    """Raise the first ConfigError drbdadm would report for this configuration."""
    names = {res.name for res in config.resources}
    for res in config.resources:
        _check_resource(res, names)
    _check_unique(config)

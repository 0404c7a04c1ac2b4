"""The whole heartbeat configuration: ha.cf, haresources and authkeys of one directory.

The directory is $HA_DIR when set (the variable heartbeat itself exports to resource
scripts, so a tool run from a script sees the daemon's directory), else /etc/ha.d, else
/etc/heartbeat (Debian's 2006 layout) when only that one holds an ha.cf.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .authkeys import AuthKeys, read_authkeys
from .errors import ConfigError, ConfigErrors, ConfigWarning
from .hacf import HaCf, read_hacf
from .haresources import HaResources, check_scripts, find_resource_script, read_haresources, resource_dirs
from .text import ascii_lower, quoted, show
from .timeparse import format_ms

CONFDIR_ENV = "HA_DIR"
DEFAULT_CONFDIRS = ("/etc/ha.d", "/etc/heartbeat")
HACF, HARESOURCES, AUTHKEYS = "ha.cf", "haresources", "authkeys"


def config_dir(env: Mapping[str, str] | None = None,
               candidates: tuple[str, ...] = DEFAULT_CONFDIRS) -> Path:
    """$HA_DIR, else the first of CANDIDATES holding an ha.cf, else the first candidate."""
    env = os.environ if env is None else env
    if env.get(CONFDIR_ENV):
        return Path(env[CONFDIR_ENV])
    for candidate in candidates:
        if (Path(candidate) / HACF).exists():
            return Path(candidate)
    return Path(candidates[0])


@dataclass
class HAConfig:
    confdir: Path
    hacf: HaCf
    resources: HaResources          # empty under `heartbeat -M`
    authkeys: AuthKeys
    resource_dirs: tuple[Path, ...]
    warnings: list[ConfigWarning] = field(default_factory=list)
    unhandled: list[ConfigWarning] = field(default_factory=list)

    def find_script(self, script: str) -> Path | None:
        """Where a resource script lives: resource.d of the config dir, then /etc/init.d."""
        return find_resource_script(script, self.resource_dirs)

    def summary(self) -> str:
        """One line saying what was understood."""
        cf = self.hacf
        parts = [
            f"{self.confdir}: nodes " + " ".join(show(n) for n in cf.nodes),
            "media " + ", ".join(show(m.describe()) for m in cf.media) if cf.media else "no media",
            f"keepalive {format_ms(cf.keepalive_ms)} deadtime {format_ms(cf.deadtime_ms)}"
            f" warntime {format_ms(cf.warntime_ms)} initdead {format_ms(cf.initdead_ms)}",
            f"auto_failback {cf.auto_failback}",
        ]
        if cf.ping_nodes:
            parts.append("ping nodes " + " ".join(show(p.name) for p in cf.ping_nodes))
        groups = [f"{show(g.node)}: {show(' '.join(r.canonical for r in g.resources))}" for g in self.resources]
        count = len(groups)
        parts.append(f"{count} resource group{'' if count == 1 else 's'}"
                     + (" (" + "; ".join(groups) + ")" if groups else ""))
        parts.append(f"auth {self.authkeys.active.index} {self.authkeys.active.method}")
        return "; ".join(parts)


def load(confdir: str | os.PathLike | None = None, *, env: Mapping[str, str] | None = None,
         nodename: str | None = None, manage_resources: bool = True) -> HAConfig:
    """Read and check the three files; ConfigErrors lists every error of all of them.

    nodename: this node's name (`uname -n`); when given, it must be declared in ha.cf,
    as heartbeat requires before it starts. manage_resources=False (`heartbeat -M`)
    skips haresources.
    """
    env = os.environ if env is None else env
    confdir = Path(confdir) if confdir is not None else config_dir(env)
    errors: list[ConfigError] = []
    warnings: list[ConfigWarning] = []

    def attempt(read, *args, **kwargs):
        """The file's contents, or what could be read of them (None if nothing)."""
        try:
            result = read(*args, **kwargs)
        except ConfigErrors as e:
            errors.extend(e.errors)
            warnings.extend(e.warnings)
            return e.partial
        warnings.extend(result.warnings)
        return result

    hacf = attempt(read_hacf, str(confdir / HACF), manage_resources=manage_resources)
    resources = (attempt(read_haresources, str(confdir / HARESOURCES)) if manage_resources
                 else HaResources(str(confdir / HARESOURCES)))
    authkeys = attempt(read_authkeys, str(confdir / AUTHKEYS))
    dirs = resource_dirs(confdir, dict(env))

    # autojoin any: 3.0.6 needs no node line for this machine either
    if (hacf is not None and nodename is not None and not hacf.is_node(nodename)
            and hacf.autojoin != "any"):
        errors.append(ConfigError(hacf.path, None, f"this node {quoted(ascii_lower(nodename))}"
                                  " (uname -n) is not declared by a node directive"))
    if hacf is not None and resources is not None:
        for group in resources:
            if not hacf.is_node(group.node):
                errors.append(ConfigError(resources.path, group.line, f"node {quoted(group.node)}"
                                          f" is not declared by a node directive in {HACF}"))
    if resources is not None:
        warnings.extend(check_scripts(resources, dirs))
    if errors:
        raise ConfigErrors(errors, warnings)
    return HAConfig(confdir, hacf, resources, authkeys, dirs, warnings, list(hacf.unhandled))

"""heartbeat's configuration files: ha.cf, haresources, authkeys.

Nothing else in the project reads these files. Start from `load()`:

    cfg = load()                 # $HA_DIR, /etc/ha.d or /etc/heartbeat
    cfg.hacf.keepalive_ms, cfg.hacf.media, cfg.resources.groups, cfg.authkeys.active
"""
from .authkeys import AuthKey, AuthKeys, parse_authkeys, read_authkeys
from .errors import ConfigError, ConfigErrors, ConfigWarning
from .hacf import HaCf, parse_hacf, read_hacf
from .haresources import (HaResources, Resource, ResourceGroup, find_resource_script,
                          parse_haresources, read_haresources, resource_dirs)
from .loader import HAConfig, config_dir, load
from .media import Medium, PingNode
from .timeparse import format_ms, parse_ms

__all__ = [
    "AuthKey", "AuthKeys", "ConfigError", "ConfigErrors", "ConfigWarning", "HAConfig", "HaCf",
    "HaResources", "Medium", "PingNode", "Resource", "ResourceGroup", "config_dir",
    "find_resource_script", "format_ms", "load", "parse_authkeys", "parse_hacf",
    "parse_haresources", "parse_ms", "read_authkeys", "read_hacf", "read_haresources",
    "resource_dirs",
]

"""haresources: heartbeat v1 resource groups.

One group per line: `node resource resource ...`, read as heartbeat's ResourceManager
reads it: `#` starts a comment, a line ending in `\\` continues on the next one, words
are separated by blanks and tabs, the node name is lower-cased. A resource is
`script::arg::arg`; a bare address (`192.168.0.222`, `10.0.0.5/24/eth0/10.0.0.255`)
means `IPaddr::address`. Scripts are looked up in the config directory's resource.d,
then in /etc/init.d.
"""
from __future__ import annotations

import difflib
import fnmatch
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigWarning, Diagnostics
from .source import read_file
from .text import ascii_lower, physical_lines, quoted, show, split_words, strip_comment

ARG_SEPARATOR = "::"
IP_SCRIPT = "IPaddr"
IP_PATTERN = "[0-9]*.[0-9]*.[0-9]*.[0-9]*"      # ResourceManager's test for "is an address"
RESOURCE_BLANKS = " \t\r"
INIT_DIR = "/etc/init.d"

# The scripts heartbeat ships in resource.d, offered as spelling suggestions even where
# they are not installed.
KNOWN_SCRIPTS = ("AudibleAlarm", "Delay", "Filesystem", "ICP", "IPaddr", "IPaddr2", "IPsrcaddr",
                 "IPv6addr", "LVM", "LinuxSCSI", "MailTo", "OCF", "Raid1", "SendArp", "ServeRAID",
                 "WAS", "WinPopup", "Xinetd", "apache", "db2", "drbddisk", "drbdupper", "ids",
                 "portblock")


@dataclass(frozen=True)
class Resource:
    """One resource of a group: the script to run and its arguments."""

    script: str
    args: tuple[str, ...]
    raw: str                # as written in haresources: the name heartbeat uses for it
    line: int

    @property
    def canonical(self) -> str:
        """`IPaddr::10.0.0.1` for a bare address; `script::arg::arg` for the others."""
        return ARG_SEPARATOR.join((self.script, *self.args))

    def command(self, script_path: str | os.PathLike, action: str) -> list[str]:
        """The legacy calling convention: `script [args...] start|stop|status`."""
        return [os.fspath(script_path), *self.args, action]


@dataclass(frozen=True)
class ResourceGroup:
    """A haresources line: the preferred node and its resources, started in order."""

    node: str                           # lower-cased
    resources: tuple[Resource, ...]
    line: int

    @property
    def key(self) -> str:
        """The group's name in heartbeat messages: its first resource as written."""
        return self.resources[0].raw if self.resources else ""

    def text(self) -> str:
        """The group as ResourceManager logs it: `nodea 10.0.0.1/24/eth0 drbddisk::r0`."""
        return " ".join([self.node, *(r.raw for r in self.resources)])


@dataclass
class HaResources:
    path: str
    groups: list[ResourceGroup] = field(default_factory=list)
    warnings: list[ConfigWarning] = field(default_factory=list)

    def __iter__(self) -> Iterator[ResourceGroup]:
        return iter(self.groups)

    def __len__(self) -> int:
        return len(self.groups)


def is_address(word: str) -> bool:
    return fnmatch.fnmatchcase(word, IP_PATTERN)


def parse_resource(word: str, line: int) -> Resource:
    """`IPaddr::10.0.0.1`, `Filesystem::/dev/sda1::/data::ext3`, `httpd`, `10.0.0.1`."""
    if ARG_SEPARATOR in word:
        script, _, rest = word.partition(ARG_SEPARATOR)
        return Resource(script, tuple(rest.split(ARG_SEPARATOR)), word, line)
    if is_address(word):
        return Resource(IP_SCRIPT, (word,), word, line)
    return Resource(word, (), word, line)


def logical_lines(data: bytes | str) -> Iterator[tuple[int, str]]:
    """(first line number, text) with comments removed and continuations joined."""
    start, pending = None, ""
    for number, text in physical_lines(data):
        text = strip_comment(text).rstrip("\r")     # a CRLF file continues lines too
        if start is None:
            start = number
        if text.endswith("\\"):
            # ResourceManager removes backslash and newline and adds no blank
            pending += text[:-1]
            continue
        yield start, pending + text
        start, pending = None, ""
    if start is not None and pending:
        yield start, pending


def read_haresources(path: str) -> HaResources:
    data, _ = read_file(path, "resources file")
    return parse_haresources(data, str(path))


def parse_haresources(data: bytes | str, path: str = "haresources") -> HaResources:
    """Parse haresources text; raise ConfigErrors listing every error found."""
    diag = Diagnostics(path)
    result = HaResources(path)
    keys: dict[str, int] = {}
    for number, text in logical_lines(data):
        words = split_words(text, RESOURCE_BLANKS)
        if not words:
            continue
        node, resources = ascii_lower(words[0]), []
        for word in words[1:]:
            resource = parse_resource(word, number)
            if not resource.script:
                diag.error(number, f"resource {quoted(word)} has no script name before '::'")
            elif "/" in resource.script:
                diag.error(number, f"resource script {quoted(resource.script)} must be a name"
                           " in resource.d or /etc/init.d, not a path")
            else:
                resources.append(resource)
        if len(words) == 1:
            diag.warn(number, f"node {quoted(node)} has no resources on this line")
            continue
        group = ResourceGroup(node, tuple(resources), number)
        if group.key in keys:
            diag.warn(number, f"resource group {quoted(group.key)} already starts line"
                      f" {keys[group.key]}: heartbeat names groups by their first resource")
        elif group.key:
            keys[group.key] = number
        result.groups.append(group)
    result.warnings = diag.warnings
    diag.raise_if_errors(partial=result)
    return result


def resource_dirs(confdir: str | os.PathLike, env: dict[str, str] | None = None) -> tuple[Path, Path]:
    """Where scripts are looked for: CONFDIR/resource.d, then $INITDIR or /etc/init.d."""
    env = os.environ if env is None else env
    return Path(confdir) / "resource.d", Path(env.get("INITDIR") or INIT_DIR)


def find_resource_script(script: str, dirs: Sequence[str | os.PathLike]) -> Path | None:
    """The first executable regular file named SCRIPT in DIRS, or None."""
    if not script or "/" in script or script in (".", ".."):
        return None
    for directory in dirs:
        candidate = Path(directory) / script
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def suggest_script(script: str, dirs: Iterable[str | os.PathLike]) -> str | None:
    """The closest installed or well-known script name, for a misspelled one."""
    names = set(KNOWN_SCRIPTS)
    for directory in dirs:
        try:
            names.update(p.name for p in Path(directory).iterdir())
        except OSError:
            continue
    close = difflib.get_close_matches(script, sorted(names), n=1, cutoff=0.75)
    return close[0] if close else None


def check_scripts(resources: HaResources, dirs: Sequence[str | os.PathLike]) -> list[ConfigWarning]:
    """A warning for each resource whose script is not found, with a suggestion.

    heartbeat itself only notices at takeover time ("Cannot locate resource script").
    """
    found: list[ConfigWarning] = []
    where = " or ".join(os.fspath(d) for d in dirs)
    for group in resources:
        for resource in group.resources:
            if find_resource_script(resource.script, dirs) is not None:
                continue
            message = f"no resource script {quoted(resource.script)} in {where}"
            suggestion = suggest_script(resource.script, dirs)
            if suggestion and suggestion != resource.script:
                message += f' (did you mean "{show(suggestion)}"?)'
            found.append(ConfigWarning(resources.path, resource.line, message))
    return found

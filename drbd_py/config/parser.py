"""Recursive-descent parser for drbd.conf of DRBD 0.7, 8.0-8.3 and 8.4.

One grammar covers all eras: the structure (global, common, resource, on,
floating, volume, skip, include) is written out here, the option keywords of
every section come from `keywords`. The parser yields drafts: each resource
as written, before `common` and resource-level volumes are folded in
(that is `build`'s job).
"""
from __future__ import annotations

import glob
import ipaddress
import os
from dataclasses import dataclass, field

from . import keywords
from .errors import ConfigError, ConfigMissing
from .keywords import OptionSpec, ValueKind
from .lexer import Kind, Token, tokenize
from .model import Address, GlobalOptions, Host, Settings, Volume, Where
from .units import format_size, parse_size

RESOURCE_KEYWORDS = ("protocol | incon-degr-cmd | on | floating | disk | device | meta-disk | "
                     "flexible-meta-disk | volume | net | syncer | startup | handlers | "
                     "options | ignore-on | skip")
HOST_KEYWORDS = "disk | device | address | meta-disk | flexible-meta-disk | volume"
VOLUME_KEYWORDS = "device | disk | meta-disk | flexible-meta-disk"
ADDRESS_FAMILIES = ("ipv4", "ipv6", "ssocks", "sdp", "sci")
UNSUPPORTED = {
    "stacked-on-top-of": "stacked resources are not supported",
    "proxy": "DRBD proxy is not supported",
    "_this_host": "'_this_host' is internal to drbdadm and not supported",
    "_remote_host": "'_remote_host' is internal to drbdadm and not supported",
}


@dataclass
class ResourceDraft:
    """A resource (or the common section) as it stands in the file."""
    name: str
    where: Where
    settings: Settings = field(default_factory=Settings)
    volumes: dict[int, Volume] = field(default_factory=dict)  # resource-level (8.4)
    hosts: list[Host] = field(default_factory=list)
    implicit_volume: bool = False
    explicit_volumes: bool = False
    newer: Where | None = None  # first thing DRBD 0.7 did not know (None: 0.7 syntax)


@dataclass
class ConfigDraft:
    path: str
    global_options: GlobalOptions = field(default_factory=GlobalOptions)
    global_where: Where | None = None
    common: ResourceDraft | None = None
    resources: list[ResourceDraft] = field(default_factory=list)
    seen_files: set[str] = field(default_factory=set)
    newer: Where | None = None  # the same for global and common (they bind every resource)


def parse_error(token: Token, expected: str) -> ConfigError:
    got = "end of file" if token.kind is Kind.EOF else f"'{token.text}'"
    return ConfigError(token.path, token.line, f"Parse error: '{expected}' expected, but got {got}")


def mixed_volumes(token: Token, resource: str) -> ConfigError:
    return ConfigError(token.path, token.line,
                       f"in resource {resource}: you must not mix implicit and explicit volumes")


def read_text(path: str) -> str:
    # surrogateescape: any byte sequence survives the round trip to output.
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        return handle.read()


def parse_file(path: str) -> ConfigDraft:
    """Parse `path` and everything it includes."""
    try:
        text = read_text(path)
    except (OSError, UnicodeError):
        raise ConfigMissing(path) from None
    draft = ConfigDraft(path=path)
    draft.seen_files.add(os.path.realpath(path))
    _FileParser(draft, tokenize(text, path), path).parse_top()
    return draft


def parse_text(text: str, path: str) -> ConfigDraft:
    """Parse text as if read from `path` (includes resolve relative to it)."""
    draft = ConfigDraft(path=path)
    draft.seen_files.add(os.path.realpath(path))
    _FileParser(draft, tokenize(text, path), path).parse_top()
    return draft


class _FileParser:
    def __init__(self, draft: ConfigDraft, tokens: list[Token], path: str):
        self.draft = draft
        self.tokens = tokens
        self.pos = 0
        self.path = path
        self.marking: ConfigDraft | ResourceDraft = draft  # where newer syntax is noted

    def note_syntax(self, place: str, token: Token) -> None:
        """Note the first keyword DRBD 0.7 did not know, in the section being read."""
        if token.text not in keywords.V07_KEYWORDS[place]:
            self.note_newer(token)

    def note_newer(self, token: Token) -> None:
        if self.marking.newer is None:
            self.marking.newer = self.where(token)

    # -- token helpers ------------------------------------------------------
    def peek(self) -> Token:
        return self.tokens[self.pos]

    def next(self) -> Token:
        token = self.tokens[self.pos]
        if token.kind is Kind.BAD:
            raise ConfigError(token.path, token.line, token.text)
        if token.kind is not Kind.EOF:
            self.pos += 1
        return token

    def expect(self, char: str) -> Token:
        token = self.next()
        if not token.is_punct(char):
            raise parse_error(token, char)
        return token

    def value(self, expected: str) -> Token:
        """A word or a quoted string."""
        token = self.next()
        if token.kind not in (Kind.WORD, Kind.STRING):
            raise parse_error(token, expected)
        return token

    def where(self, token: Token) -> Where:
        return Where(token.path, token.line)

    # -- top level ------------------------------------------------------------
    def parse_top(self) -> None:
        while True:
            token = self.next()
            if token.kind is Kind.EOF:
                return
            word = token.text if token.kind is Kind.WORD else None
            if word == "global":
                self.parse_global(token)
            elif word == "common":
                self.note_newer(token)          # 0.7 had no common section
                if self.draft.common is not None:
                    raise self.conflict(token, "common section", "common", self.draft.common.where)
                self.expect("{")
                common = ResourceDraft("common", self.where(token))
                self.draft.common = common
                self.parse_resource_body(common, is_common=True)
            elif word == "resource":
                self.parse_resource(token)
            elif word == "skip":
                self.skip_block(token)
            elif word == "include":
                pattern = self.value("a file name or pattern")
                self.expect(";")
                self.include(pattern)
            else:
                raise parse_error(token, "global | common | resource | skip | include")

    def conflict(self, token: Token, what: str, name: str, first: Where) -> ConfigError:
        return ConfigError(token.path, token.line,
                           f"conflicting use of {what} '{name}' (first used at {first})")

    def parse_global(self, token: Token) -> None:
        if self.draft.global_where is not None:
            raise self.conflict(token, "global section", "global", self.draft.global_where)
        self.draft.global_where = self.where(token)
        self.expect("{")
        self.marking = self.draft
        self.parse_options("global", {"global": self.draft.global_options})

    def skip_block(self, start: Token) -> None:
        """`skip [any text] { ... }`: braces balanced, everything inside ignored."""
        while True:
            token = self.tokens[self.pos]
            if token.kind is Kind.EOF:
                raise parse_error(token, "[ some_text ] {")
            self.pos += 1
            if token.is_punct("{"):
                break
            if token.is_punct("}"):
                raise parse_error(token, "[ some_text ] {")
        depth = 1
        while depth:
            token = self.tokens[self.pos]
            if token.kind is Kind.EOF:
                raise ConfigError(start.path, start.line,
                                  "reached end of file while parsing this skip block")
            self.pos += 1
            if token.is_punct("{"):
                depth += 1
            elif token.is_punct("}"):
                depth -= 1

    def include(self, pattern_token: Token) -> None:
        pattern = pattern_token.text
        base = os.path.dirname(self.path)
        full = pattern if os.path.isabs(pattern) else os.path.join(base, pattern)
        matches = sorted(glob.glob(full))
        if not matches and not any(c in pattern for c in "*?["):
            raise ConfigError(pattern_token.path, pattern_token.line,
                              f"Failed to open include file '{pattern}'.")
        for name in matches:
            real = os.path.realpath(name)
            if real in self.draft.seen_files:
                continue
            self.draft.seen_files.add(real)
            try:
                text = read_text(name)
            except (OSError, UnicodeError):
                raise ConfigError(pattern_token.path, pattern_token.line,
                                  f"Failed to open include file '{name}'.") from None
            _FileParser(self.draft, tokenize(text, name), name).parse_top()

    # -- resources --------------------------------------------------------------
    def parse_resource(self, start: Token) -> None:
        name = self.value("a resource name")
        if not name.text or "/" in name.text:
            raise ConfigError(name.path, name.line, f"invalid resource name '{name.text}'")
        for other in self.draft.resources:
            if other.name == name.text:
                raise self.conflict(name, "resource section", name.text, other.where)
        self.expect("{")
        res = ResourceDraft(name.text, self.where(start))
        self.draft.resources.append(res)
        self.parse_resource_body(res, is_common=False)

    def parse_resource_body(self, res: ResourceDraft, is_common: bool) -> None:
        seen: dict[str, Where] = {}
        self.marking = self.draft if is_common else res
        while True:
            token = self.next()
            if token.is_punct("}"):
                self.marking = self.draft
                return
            word = token.text if token.kind is Kind.WORD else None
            if word == "disk" and not self.peek().is_punct("{"):
                self.note_newer(token)          # 8.4's resource-level volume
            elif word is not None:
                self.note_syntax("resource", token)
            if word in ("net", "syncer", "startup", "handlers", "options") or (
                    word == "disk" and self.peek().is_punct("{")):
                self.once(seen, token, f"{word} section", res.name)
                self.expect("{")
                targets = self.settings_targets(res.settings)
                self.parse_options(word, targets)
            elif word == "protocol":
                self.once(seen, token, "protocol statement", res.name)
                self.parse_option_value(keywords.NET["protocol"], token, {"net": res.settings.net})
            elif word == "incon-degr-cmd":
                # 0.7: what to run when coming up degraded with inconsistent data;
                # 8.x's pri-on-incon-degr handler is the same hook.
                self.once(seen, token, "incon-degr-cmd statement", res.name)
                spec = keywords.HANDLERS["pri-on-incon-degr"]
                self.parse_option_value(spec, token, {"handlers": res.settings.handlers})
            elif word == "on" or word == "floating":
                if is_common:
                    raise ConfigError(token.path, token.line,
                                      "in the common section, there are no host sections allowed")
                res.hosts.append(self.parse_host(res, token, floating=word == "floating"))
            elif word in ("disk", "device", "meta-disk", "flexible-meta-disk"):
                self.implicit(res, token)
                self.parse_volume_statement(res.volumes.setdefault(0, Volume(0)), token,
                                            seen, res.name)
            elif word == "volume":
                number = self.volume_number(res)
                if number in res.volumes:
                    raise self.conflict(token, "volume", f"{res.name}/{number}",
                                        res.volumes[number].where)
                res.volumes[number] = self.parse_volume(number, token)
            elif word == "ignore-on":
                # Deprecated in 8.x and without effect on what we run.
                self.value("a host name")
                self.expect(";")
            elif word == "skip":
                self.skip_block(token)
            elif word in UNSUPPORTED:
                raise ConfigError(token.path, token.line, UNSUPPORTED[word])
            else:
                raise parse_error(token, RESOURCE_KEYWORDS)

    def once(self, seen: dict[str, Where], token: Token, what: str, scope: str) -> None:
        if what in seen:
            raise self.conflict(token, what, scope, seen[what])
        seen[what] = self.where(token)

    def settings_targets(self, settings: Settings, disk=None) -> dict:
        return {"disk": disk if disk is not None else settings.disk, "net": settings.net,
                "startup": settings.startup, "options": settings.options,
                "handlers": settings.handlers}

    def implicit(self, res: ResourceDraft, token: Token) -> None:
        if res.explicit_volumes:
            raise mixed_volumes(token, res.name)
        res.implicit_volume = True

    def volume_number(self, res: ResourceDraft) -> int:
        token = self.value("a volume number")
        if not token.text.isdigit() or int(token.text) > 65535:
            raise parse_error(token, "a volume number (0..65535)")
        if res.implicit_volume:
            raise mixed_volumes(token, res.name)
        res.explicit_volumes = True
        return int(token.text)

    # -- hosts and volumes ---------------------------------------------------------
    def parse_host(self, res: ResourceDraft, start: Token, floating: bool) -> Host:
        host = Host(names=(), floating=floating, where=self.where(start))
        if floating:
            host.address = self.parse_address()
            host.address_where = self.where(start)
            self.expect("{")
        else:
            names = []
            while not self.peek().is_punct("{"):
                token = self.next()
                if token.kind not in (Kind.WORD, Kind.STRING):
                    raise parse_error(token, "a host name | {")
                names.append(token.text)
            if not names:
                raise parse_error(self.peek(), "a host name")
            self.expect("{")
            host.names = tuple(names)
        for other in res.hosts:
            clash = set(other.names) & set(host.names)
            if clash or (floating and other.floating and other.address == host.address):
                shown = sorted(clash)[0] if clash else host.name
                raise self.conflict(start, "host section", f"{res.name}: on {shown}", other.where)
        seen: dict[str, Where] = {}
        implicit = explicit = False
        while True:
            token = self.next()
            if token.is_punct("}"):
                return host
            word = token.text if token.kind is Kind.WORD else None
            if word is not None:
                self.note_syntax("host", token)
            if word == "address":
                if floating:
                    raise ConfigError(token.path, token.line,
                                      "address statement not allowed for floating {} host sections")
                self.once(seen, token, "address statement", f"{res.name}: on {host.name}")
                host.address = self.parse_address()
                host.address_where = self.where(token)
                self.expect(";")
            elif word in ("disk", "device", "meta-disk", "flexible-meta-disk"):
                if explicit:
                    raise mixed_volumes(token, res.name)
                implicit = True
                volume = host.volumes.setdefault(0, Volume(0))
                self.parse_volume_statement(volume, token, seen, f"{res.name}: on {host.name}")
            elif word == "volume":
                token_n = self.value("a volume number")
                if not token_n.text.isdigit() or int(token_n.text) > 65535:
                    raise parse_error(token_n, "a volume number (0..65535)")
                if implicit:
                    raise mixed_volumes(token, res.name)
                explicit = True
                number = int(token_n.text)
                if number in host.volumes:
                    raise self.conflict(token, "volume", f"{res.name}/{number}",
                                        host.volumes[number].where)
                host.volumes[number] = self.parse_volume(number, token)
            elif word in UNSUPPORTED:
                raise ConfigError(token.path, token.line, UNSUPPORTED[word])
            else:
                raise parse_error(token, HOST_KEYWORDS)

    def parse_volume(self, number: int, start: Token) -> Volume:
        volume = Volume(number, where=self.where(start))
        self.expect("{")
        seen: dict[str, Where] = {}
        while True:
            token = self.next()
            if token.is_punct("}"):
                return volume
            if token.kind is Kind.WORD and token.text == "disk" and self.peek().is_punct("{"):
                self.once(seen, token, "disk section", f"volume {number}")
                self.expect("{")
                self.parse_options("disk", {"disk": volume.disk_options})
            elif token.kind is Kind.WORD and token.text in ("disk", "device", "meta-disk",
                                                             "flexible-meta-disk"):
                self.parse_volume_statement(volume, token, seen, f"volume {number}")
            else:
                raise parse_error(token, VOLUME_KEYWORDS)

    def parse_volume_statement(self, volume: Volume, token: Token, seen: dict, scope: str) -> None:
        word = token.text
        what = "meta-disk" if word == "flexible-meta-disk" else word
        self.once(seen, token, f"{what} statement", scope)
        if volume.where is None:
            volume.where = self.where(token)
        if word == "disk":
            volume.disk = self.value("a disk name").text
            self.expect(";")
        elif word == "device":
            self.parse_device(volume, token)
        elif word == "meta-disk":
            self.parse_meta_disk(volume)
        else:
            volume.meta_disk = self.value("internal | a device name").text
            volume.meta_index = None
            self.expect(";")

    def parse_device(self, volume: Volume, start: Token) -> None:
        volume.where = self.where(start)
        token = self.value("a device name | minor")
        if token.kind is Kind.WORD and token.text == "minor":
            self.note_newer(token)
            volume.minor = self.minor_number()
            self.expect(";")
            return
        name = token.text
        if name.startswith("drbd"):
            name = "/dev/" + name
        if not name.startswith("/dev/drbd"):
            raise ConfigError(token.path, token.line, "device name must start with /dev/drbd "
                              "(/dev/ is optional, but drbd is required)")
        volume.device = name
        digits = name[len("/dev/drbd"):]
        implied = int(digits) if digits.isdigit() else None
        after = self.next()
        if after.kind is Kind.WORD and after.text == "minor":
            self.note_newer(after)
            volume.minor = self.minor_number()
            self.expect(";")
            if implied is not None and implied != volume.minor:
                raise ConfigError(token.path, token.line,
                                  "explicit minor number must match with device name")
        elif after.is_punct(";"):
            if implied is None:
                raise ConfigError(token.path, token.line,
                                  "no minor given nor device name contains a minor number")
            volume.minor = implied
        else:
            raise parse_error(after, "minor | ;")

    def minor_number(self) -> int:
        token = self.value("a minor number")
        if not token.text.isdigit() or int(token.text) >= 1 << 20:
            raise parse_error(token, "a minor number (0..1048575)")
        return int(token.text)

    def parse_meta_disk(self, volume: Volume) -> None:
        token = self.value("internal | a device name")
        volume.meta_disk = token.text
        volume.meta_index = None
        if token.text == "internal":
            if self.peek().is_punct("["):
                raise ConfigError(token.path, token.line,
                                  "don't give an index for internal meta-data")
            self.expect(";")
            return
        after = self.next()
        if after.is_punct(";"):
            self.note_newer(token)      # flexible meta-data came with 8.0
            return
        if not after.is_punct("["):
            raise parse_error(after, "[ | ;")
        index = self.value("an index")
        if not index.text.isdigit():
            raise parse_error(index, "an index")
        volume.meta_index = int(index.text)
        self.expect("]")
        self.expect(";")

    def parse_address(self) -> Address:
        token = self.value("ssocks | sdp | ipv4 | ipv6 | <ipv4 address>")
        family = "ipv4"
        if token.kind is Kind.WORD and token.text in ADDRESS_FAMILIES:
            self.note_newer(token)
            family = "ssocks" if token.text == "sci" else token.text  # 'sci' was renamed
            if family == "ipv6":
                self.expect("[")
                host_token = self.value("an IPv6 address")
                self.expect("]")
                port_token = self.value(":port")
                if not port_token.text.startswith(":"):
                    raise parse_error(port_token, ":")
                return self.address(family, host_token, port_token.text[1:], port_token)
            token = self.value("an address")
        host, sep, port = token.text.rpartition(":")
        if not sep:
            raise ConfigError(token.path, token.line,
                              f"':PORT' missing from '{token.text}' (address IP:PORT;)")
        return self.address(family, token, port, token, host=host)

    def address(self, family: str, host_token: Token, port: str, port_token: Token,
                host: str | None = None) -> Address:
        host = host_token.text if host is None else host
        try:
            parsed = ipaddress.ip_address(host)
        except ValueError:
            raise ConfigError(host_token.path, host_token.line,
                              f"'{host}' is not a valid {family} address") from None
        if (parsed.version == 6) != (family == "ipv6"):
            raise ConfigError(host_token.path, host_token.line,
                              f"'{host}' is not a valid {family} address")
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ConfigError(port_token.path, port_token.line,
                              f"port '{port}' out of range [1..65535]")
        return Address(family, host, int(port))

    # -- option sections -------------------------------------------------------
    def parse_options(self, section: str, targets: dict) -> None:
        table = keywords.SECTIONS[section]
        expected = "a syncer option keyword" if section == "syncer" else "an option keyword"
        while True:
            token = self.next()
            if token.is_punct("}"):
                return
            spec = table.get(token.text) if token.kind is Kind.WORD else None
            if spec is None:
                raise parse_error(token, expected)
            if section in keywords.V07_KEYWORDS:
                self.note_syntax(section, token)
            else:
                self.note_newer(token)
            self.parse_option_value(spec, token, targets)

    def parse_option_value(self, spec: OptionSpec, name: Token, targets: dict) -> None:
        value = self.option_value(spec, name)
        if spec.kind is ValueKind.IGNORED:
            return
        target = targets[spec.target]
        if isinstance(target, dict):
            target[spec.name] = value
        else:
            setattr(target, spec.attr, value)

    def option_value(self, spec: OptionSpec, name: Token):
        kind = spec.kind
        if kind is ValueKind.NO_FLAG:
            self.expect(";")
            return False
        if kind is ValueKind.FLAG:
            token = self.next()
            if token.is_punct(";"):
                return True
            if token.kind is Kind.WORD and token.text in ("yes", "no"):
                self.expect(";")
                return token.text == "yes"
            raise parse_error(token, "yes | no | ;")
        if kind is ValueKind.WORDS:
            words = [self.value("a host name").text]
            while not self.peek().is_punct(";"):
                words.append(self.value("a host name | ;").text)
            self.expect(";")
            return tuple(words)
        token = self.value(f"a value for {name.text}")
        self.expect(";")
        text = token.text
        if kind in (ValueKind.STRING, ValueKind.IGNORED):
            return text
        if kind is ValueKind.ENUM:
            if spec.case_insensitive:
                text = text.upper()
            text = spec.aliases.get(text, text)
            if text not in spec.choices:
                if spec.name == "protocol":
                    raise ConfigError(token.path, token.line,
                                      f"unknown protocol '{token.text}', should be one of A,B,C")
                raise parse_error(token, " | ".join(spec.choices))
            return text
        if kind is ValueKind.INT:
            digits = text[1:] if text.startswith("-") else text
            if not digits.isdigit():
                raise ConfigError(token.path, token.line,
                                  f"{name.text}: '{text}' is not a valid number")
            number = int(text)
        else:
            number = parse_size(text, spec.unit)
            if number is None:
                raise ConfigError(token.path, token.line,
                                  f"{name.text}: '{text}' is not a valid size ([0-9]+[KMGs]?)")
        if (spec.minimum is not None and number < spec.minimum) or (
                spec.maximum is not None and number > spec.maximum):
            bounds = f"[{self.shown(spec, spec.minimum)}..{self.shown(spec, spec.maximum)}]"
            raise ConfigError(token.path, token.line, f"{name.text} {text} out of range {bounds}")
        return number

    @staticmethod
    def shown(spec: OptionSpec, bound: int) -> str:
        if spec.kind is ValueKind.SIZE:
            return format_size(bound, spec.unit)
        return str(bound)

"""Print the model back as drbd.conf text in one normalized (8.4-shaped) form.

Reading the output again gives the same model: every resource carries its
effective options (common folded in) and every host its full volumes.
"""
from __future__ import annotations

import re

from . import keywords
from .keywords import OptionSpec, ValueKind
from .model import Config, Host, Resource, Settings, Volume, _Section
from .units import format_size

INDENT = "    "
_PLAIN = re.compile(r"[a-zA-Z0-9/._-]{1,80}\Z")


def esc(text: str) -> str:
    """A word as drbdadm writes it: bare when safe, else double-quoted."""
    if _PLAIN.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _canonical_specs() -> dict[tuple[str, str], tuple[str, str, OptionSpec]]:
    """(model section, attribute) -> (written section, keyword, spec)."""
    found = {}
    for section, table in keywords.SECTIONS.items():
        for keyword, spec in table.items():
            if spec.kind in (ValueKind.IGNORED, ValueKind.NO_FLAG):
                continue
            key = (spec.target, spec.attr)
            canonical = keyword == spec.name and section in (spec.target, "global")
            if canonical or key not in found:
                found[key] = (section, keyword, spec)
    return found


SPECS = _canonical_specs()


def _value(spec: OptionSpec, value) -> str:
    if spec.kind is ValueKind.FLAG:
        return "yes" if value else "no"
    if spec.kind is ValueKind.SIZE:
        return format_size(value, spec.unit)
    if spec.kind is ValueKind.INT:
        return str(value)
    if spec.kind is ValueKind.WORDS:
        return " ".join(esc(word) for word in value)
    return esc(value)


def _option(keyword: str, value: str, depth: int) -> str:
    return f"{INDENT * depth}{keyword:<16} {value};"


def _section_lines(target: str, options: _Section, depth: int) -> dict[str, list[str]]:
    """Option lines of one model section, grouped by the section they are written in."""
    out: dict[str, list[str]] = {}
    for name, value in options.items():
        section, keyword, spec = SPECS[(target, name)]
        out.setdefault(section, []).append(_option(keyword, _value(spec, value), depth + 1))
    return out


def _settings_lines(settings: Settings, depth: int) -> list[str]:
    grouped: dict[str, list[str]] = {}
    for target in ("net", "disk", "startup", "options"):
        for section, lines in _section_lines(target, getattr(settings, target), depth).items():
            grouped.setdefault(section, []).extend(lines)
    if settings.handlers:
        grouped["handlers"] = [_option(name, esc(cmd), depth + 1)
                               for name, cmd in settings.handlers.items()]
    lines = []
    for section in ("net", "disk", "syncer", "startup", "options", "handlers"):
        if section in grouped:
            lines.append(f"{INDENT * depth}{section} {{")
            lines.extend(grouped[section])
            lines.append(f"{INDENT * depth}}}")
    return lines


def _volume_lines(volume: Volume, depth: int) -> list[str]:
    pad = INDENT * depth
    device = f"{volume.device} minor {volume.minor}" if volume.device else f"minor {volume.minor}"
    lines = [f"{pad}{'device':<16} {device};", f"{pad}{'disk':<16} {esc(volume.disk)};"]
    meta = esc(volume.meta_disk)
    if volume.meta_index is not None:
        meta += f" [{volume.meta_index}]"
    lines.append(f"{pad}{'meta-disk':<16} {meta};")
    if not volume.disk_options.is_empty():
        lines.append(f"{pad}disk {{")
        lines.extend(_section_lines("disk", volume.disk_options, depth)["disk"])
        lines.append(f"{pad}}}")
    return lines


def _host_lines(host: Host) -> list[str]:
    if host.floating:
        head = f"{INDENT}floating {host.address} {{"
    else:
        head = f"{INDENT}on {' '.join(esc(name) for name in host.names)} {{"
    lines = [head]
    only_zero = list(host.volumes) == [0] and host.volumes[0].disk_options.is_empty()
    for number, volume in host.volumes.items():
        if only_zero:
            lines.extend(_volume_lines(volume, 2))
        else:
            lines.append(f"{INDENT * 2}volume {number} {{")
            lines.extend(_volume_lines(volume, 3))
            lines.append(f"{INDENT * 2}}}")
    if host.address and not host.floating:
        lines.append(_option("address", str(host.address), 2))
    lines.append(f"{INDENT}}}")
    return lines


def dump_resource(res: Resource, note: str = "") -> str:
    lines = [f"# resource {res.name}{note}", f"resource {esc(res.name)} {{"]
    for host in res.hosts:
        lines.extend(_host_lines(host))
    lines.extend(_settings_lines(res.settings, 1))
    lines.append("}")
    return "\n".join(lines) + "\n"


def dump_config(config: Config, resources: list[Resource] | None = None) -> str:
    """The whole configuration, or only `resources` (drbdadm dump r0)."""
    parts = [f"# {config.path}\n"]
    if resources is None:
        resources = config.resources
        if not config.global_options.is_empty():
            lines = ["global {"]
            for section_lines in _section_lines("global", config.global_options, 0).values():
                lines.extend(section_lines)
            parts.append("\n".join(lines + ["}"]) + "\n")
        common = _settings_lines(config.common, 1)
        if common:
            parts.append("\n".join(["common {"] + common + ["}"]) + "\n")
    for res in resources:
        parts.append(dump_resource(res))
    return "\n".join(parts)


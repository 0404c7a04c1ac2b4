"""What the configuration parsers report: errors that stop heartbeat, and warnings.

Every problem names a file and, when it belongs to one, a line, so that the one-line
message `heartbeat: /etc/ha.d/ha.cf:12: unknown directive "keepalve"` can be printed as is.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .text import show


def where(path: str, line: int | None) -> str:
    """`path:line` or just `path` for problems that concern the whole file."""
    return f"{path}:{line}" if line else str(path)


class ConfigError(Exception):
    """One error in one configuration file; str() is `path:line: message`."""

    def __init__(self, path: str, line: int | None, message: str):
        # messages quote what the admin wrote: keep them one printable line whatever it was
        message = show(message)
        super().__init__(path, line, message)
        self.path = str(path)
        self.line = line
        self.message = message

    def __str__(self) -> str:
        return f"{where(self.path, self.line)}: {self.message}"


class ConfigErrors(ConfigError):
    """Several errors at once (a parser reports every error, not only the first).

    It is itself a ConfigError so callers need catch one type only; `warnings`
    carries what was found beside the errors, so a checker can still show it, and
    `partial` what could be read despite them, so other files can still be checked
    against it.
    """

    def __init__(self, errors: list[ConfigError], warnings: list[ConfigWarning] | None = None,
                 partial: object = None):
        if not errors:
            raise ValueError("ConfigErrors needs at least one error")
        first = errors[0]
        super().__init__(first.path, first.line, first.message)
        self.errors = list(errors)
        self.warnings = list(warnings or [])
        self.partial = partial

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


@dataclass(frozen=True)
class ConfigWarning:
    """Something heartbeat accepts but the admin should know about."""

    path: str
    line: int | None
    message: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", show(self.message))

    def __str__(self) -> str:
        return f"{where(self.path, self.line)}: {self.message}"


@dataclass
class Diagnostics:
    """Collects the errors and warnings of one file while it is parsed."""

    path: str
    errors: list[ConfigError] = field(default_factory=list)
    warnings: list[ConfigWarning] = field(default_factory=list)

    def error(self, line: int | None, message: str) -> None:
        self.errors.append(ConfigError(self.path, line, message))

    def warn(self, line: int | None, message: str) -> None:
        self.warnings.append(ConfigWarning(self.path, line, message))

    def raise_if_errors(self, partial: object = None) -> None:
        if self.errors:
            raise ConfigErrors(self.errors, self.warnings, partial)

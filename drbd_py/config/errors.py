"""What goes wrong while reading drbd.conf, with the exit codes drbdadm gives."""
from __future__ import annotations

# drbd-utils' drbdadm exit codes for configuration trouble.
EXIT_CONFIG_INVALID = 10
EXIT_CONFIG_MISSING = 20


class ConfigError(Exception):
    """A problem in the file at path:line; str() is the one line drbdadm prints."""

    def __init__(self, path: str, line: int, message: str, code: int = EXIT_CONFIG_INVALID):
        super().__init__(path, line, message)
        self.path = path
        self.line = line
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class ConfigMissing(Exception):
    """The configuration file itself cannot be opened."""

    code = EXIT_CONFIG_MISSING

    def __init__(self, path: str):
        super().__init__(path)
        self.path = path

    def __str__(self) -> str:
        return f"Can not open '{self.path}'."

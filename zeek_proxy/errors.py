"""Errors that know where they came from, so the CLI can print one line and no traceback."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceLocation:
    """A file, and the line in it when one is known."""

    path: str
    line: int | None = None

    def __str__(self) -> str:
        return self.path if self.line is None else f"{self.path}:{self.line}"


class ZeekProxyError(Exception):
    """Root of the project's errors; `exit_code` is what the CLI exits with."""

    exit_code = 1

    def __init__(self, message: str, source: SourceLocation | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.source = source

    def __str__(self) -> str:
        return f"{self.source}: {self.message}" if self.source else self.message

    def __eq__(self, other: object) -> bool:
        return (
            type(self) is type(other)
            and self.message == other.message  # type: ignore[attr-defined]
            and self.source == other.source  # type: ignore[attr-defined]
        )

    def __hash__(self) -> int:
        return hash((type(self), self.message, self.source))


class ConfigError(ZeekProxyError):
    """A bad option, config file or allowlist: exit 2."""

    exit_code = 2


class InputError(ZeekProxyError):
    """A missing, unreadable or undecodable input: exit 3."""

    exit_code = 3


class MalformedRecordError(InputError):
    """One record that cannot be read; fatal only under --strict."""

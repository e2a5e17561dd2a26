"""Typed errors raised by library code; only the CLI turns them into output and exit codes."""

from __future__ import annotations


class AuditorError(Exception):
    """An error the user can act on: a message and a hint. Never carries prompt text."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} (hint: {self.hint})"


class ConfigError(AuditorError):
    """Configuration is invalid: names the file and the key."""


class InputError(AuditorError):
    """An input file cannot be read at all (a bad record is counted, not raised)."""


class PolicyError(AuditorError):
    """Policies failed to load or evaluate."""


class ScanError(AuditorError):
    """The scanner could not be built (e.g. the spaCy model is not installed)."""


class NotFoundError(AuditorError):
    """A referenced object (sample, finding, period) does not exist."""

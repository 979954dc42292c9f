"""Exceptions vidnas raises for bad user input: each names what was wrong and where."""

from __future__ import annotations


class VidnasError(Exception):
    """Base class of every error that is the user's to fix (bad file, bad field, missing extra)."""


class GenotypeError(VidnasError, ValueError):
    """A genotype broke a rule. ``issues`` holds every (path, message) pair found, first one first."""

    def __init__(self, issues: list[tuple[str, str]] | str, message: str | None = None, *, source: str | None = None):
        if isinstance(issues, str):
            issues = [(issues, message or "invalid")]
        self.issues = list(issues)
        self.source = source
        super().__init__(self._render())

    def _render(self) -> str:
        prefix = f"{self.source}: " if self.source else ""
        path, message = self.issues[0]
        first = f"{prefix}{path}: {message}" if path else f"{prefix}{message}"
        extra = len(self.issues) - 1
        return first + (f" (and {extra} more problem{'s' if extra > 1 else ''})" if extra else "")

    def with_source(self, source: str) -> "GenotypeError":
        return GenotypeError(self.issues, source=source)

    def lines(self) -> list[str]:
        prefix = f"{self.source}: " if self.source else ""
        return [f"{prefix}{p}: {m}" if p else f"{prefix}{m}" for p, m in self.issues]


class MissingDependencyError(VidnasError, ImportError):
    """An optional dependency is not installed; the message says which extra to install."""

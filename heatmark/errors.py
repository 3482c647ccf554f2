"""Errors a user can fix. The CLI prints them as one line and exits with code 2."""

from __future__ import annotations

from pathlib import Path


class HeatmarkError(Exception):
    """Base class for every error caused by input the user controls (files, configs, flags)."""


class DataError(HeatmarkError, ValueError):
    """A data file is missing, unreadable or malformed. The message names the file and the fix."""

    def __init__(self, path: str | Path | None, problem: str, fix: str | None = None):
        self.path = None if path is None else Path(path)
        self.problem = problem
        self.fix = fix
        where = f"{self.path}: " if self.path is not None else ""
        msg = f"{where}{problem}"
        if fix:
            msg += f" ({fix})"
        super().__init__(msg)


class ConfigError(HeatmarkError, ValueError):
    """A configuration file or option is invalid."""

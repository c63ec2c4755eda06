"""The exception hierarchy of medbrief.

    MedbriefError
    ├── InputError (ValueError)        an article that cannot be read
    │   └── InputTooLarge              an article over a limit (bytes, paragraphs)
    ├── LabelFileError (ValueError)    a labelled-data file with a bad line
    └── ModelError (RuntimeError)      a model folder that is missing or unusable
"""

from __future__ import annotations

from pathlib import Path


class MedbriefError(Exception):
    """Base class of every error medbrief raises on purpose."""


class InputError(MedbriefError, ValueError):
    """An article that is empty, too large, undecodable or otherwise unreadable."""


class InputTooLarge(InputError):
    """An article over a size limit: ``what`` is ``bytes`` or ``paragraphs``."""

    def __init__(self, message: str, what: str = "bytes") -> None:
        super().__init__(message)
        self.what = what

    def __reduce__(self) -> tuple[type[InputTooLarge], tuple[str, str]]:
        return (InputTooLarge, (str(self), self.what))


class LabelFileError(MedbriefError, ValueError):
    """A labelled-data file that fails validation; names the file and the line."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")

    def __reduce__(self) -> tuple[type[LabelFileError], tuple[str, int | None, str]]:
        """Picklable (a retrain in a child process sends it back) with its three parts."""
        return (LabelFileError, (self.path, self.line, self.message))


class ModelError(MedbriefError, RuntimeError):
    """A model folder that is missing, corrupt or refuses to load."""

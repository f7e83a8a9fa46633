"""Errors a user's data can cause, and the record of a file excluded from a corpus.

Every error here is the user's to fix (a path, a corpus copy, a full disk), so
its message is one line naming the file or directory and what was expected;
`main` prints it without a traceback. `DataError` is a ValueError so callers
that already handle bad values keep working.
"""

from __future__ import annotations

import dataclasses


class DataError(ValueError):
    """Bad data input: its message is one line that names the file or directory."""


class ConfigError(ValueError):
    """A config the run cannot honour, found after loading (main reports it in one line). Here, not in run_config,
    so that parts below the run config (ssl/) raise it without importing what the run config imports."""


@dataclasses.dataclass(frozen=True)
class Exclusion:
    """One file (or label line) a reader or builder could not use.

    Attributes:
      file: the audio path, or 'file:line' for a label or manifest line.
      reason: a fixed category ("silent (all-zero) audio", ...): exclusions are
        counted by it.
      detail: what exactly is wrong with this one (e.g. "level 'H' ...").
    """

    file: str
    reason: str
    detail: str = ""

    def describe(self) -> str:
        """'file: reason (detail)', the one line strict mode raises."""
        return f"{self.file}: {self.reason}" + (f" ({self.detail})" if self.detail else "")

    def to_dict(self) -> dict[str, str]:
        return {"file": self.file, "reason": self.reason, "detail": self.detail}


class UnusableFileError(DataError):
    """A file or line breaks the corpus's scheme or holds no usable audio.

    Readers raise it where they parse; the corpus read turns it into an
    `Exclusion` (or, in strict mode, a `StrictExclusionError`).
    """

    def __init__(self, file: str, reason: str, detail: str = ""):
        self.exclusion = Exclusion(str(file), reason, detail)
        super().__init__(self.exclusion.describe())


class StrictExclusionError(DataError):
    """Strict mode: a file that would have been excluded stops preparation."""

    def __init__(self, exclusion: Exclusion):
        self.exclusion = exclusion
        super().__init__(
            f"{exclusion.describe()} [strict mode: fix or remove the file, or turn strict off to exclude it]")

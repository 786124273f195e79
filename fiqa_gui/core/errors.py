"""Errors a user can cause, carrying the file, the row and the fix, so no one sees a traceback."""

from __future__ import annotations

from pathlib import Path


class UserInputError(Exception):
    """Bad input from the user: the CLI prints `str(err)` on one line and exits with code 2.

    `row` is the 1-based data row of a CSV (header excluded) or the 0-based row of an array, as
    `row_kind` says, so the message matches what the user sees in their editor or in numpy.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        row: int | None = None,
        rows: list[int] | None = None,
        fix: str | None = None,
        row_kind: str = "row",
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.row = row
        self.rows = rows
        self.fix = fix
        self.row_kind = row_kind
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file)
        if self.row is not None:
            parts.append(f"{self.row_kind} {self.row}")
        elif self.rows:
            shown = ", ".join(str(r) for r in self.rows[:10])
            more = f" and {len(self.rows) - 10} more" if len(self.rows) > 10 else ""
            plural = "s" if len(self.rows) > 1 else ""
            parts.append(f"{self.row_kind}{plural} {shown}{more}")
        text = ": ".join(parts + [self.message]) if parts else self.message
        if self.fix:
            text += f" Fix: {self.fix}"
        return text


class Cancelled(Exception):
    """Raised inside long work when the user pressed Cancel; never an error for the user."""

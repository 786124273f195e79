"""Errors a user can cause, carrying the file, the row and the fix, so no one sees a traceback."""

from __future__ import annotations

import errno
from pathlib import Path

MAX_MESSAGE_CHARS = 300
SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
ACCESS_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


def one_line(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` on one line (whitespace runs collapsed), cut to `limit` characters with '…'.

    Messages quote other libraries' errors (torch's run to several paragraphs); the user gets
    the gist on one line, never a wall of text.
    """
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 1].rstrip() + "…"


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
        self.message = one_line(message)
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
            text += f" Fix: {one_line(self.fix)}"
        return text


class Cancelled(Exception):
    """Raised inside long work when the user pressed Cancel; never an error for the user."""


class Terminated(BaseException):
    """Raised in the main thread when the process receives SIGTERM: the same clean-up path as
    Ctrl+C (temporaries removed, transactions rolled back), then exit 143."""


def os_error_as_user_error(err: OSError, file: str | Path | None = None) -> UserInputError | None:
    """A full disk, quota, file-size limit or read-only/denied folder as a one-line user error
    naming the file; None for OS errors that are not the user's to fix."""
    file = file or err.filename
    if err.errno in SPACE_ERRNOS:
        return UserInputError(f"not enough disk space ({err.strerror}); nothing was changed",
                              file=file, fix="free some disk space, or use another drive.")
    if err.errno in ACCESS_ERRNOS:
        return UserInputError(f"cannot write there ({err.strerror})", file=file,
                              fix="choose a folder you can write to, or fix its permissions.")
    return None


def database_error_as_user_error(err: Exception, file: str | Path | None = None
                                 ) -> UserInputError | None:
    """SQLite's full-disk, read-only and corruption errors as one-line user errors."""
    text = str(err).lower()
    if "disk is full" in text or "database or disk is full" in text:
        return UserInputError("not enough disk space to save to the project database; the "
                              "last action was not saved, nothing earlier is lost", file=file,
                              fix="free some disk space and try again.")
    if "readonly" in text or "read-only" in text:
        return UserInputError("the project database cannot be written (read-only)", file=file,
                              fix="open the project read-only, or copy it somewhere writable.")
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return UserInputError(f"the project database is damaged ({err})", file=file,
                              fix="restore the project folder from a backup.")
    if "disk i/o error" in text:
        return UserInputError(f"the project database could not be read or written ({err})",
                              file=file, fix="check the disk, free space and permissions.")
    return None

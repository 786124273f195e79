"""One writer per project: OS locks held on open descriptors, released when the process dies.

Two locks, both taken without blocking and held for the project's lifetime:

- the project *folder* itself (POSIX `flock` on a directory descriptor): deleting or replacing
  `.lock` cannot let a second writer in, since the folder cannot be swapped under an open
  project without moving the whole project;
- `PROJECT/.lock` (`flock`, or `msvcrt.locking` on Windows, where an open file cannot be
  deleted), opened with `O_NOFOLLOW` and checked to be a regular file, so a `.lock` that is a
  symlink is refused and its target never touched. It carries the holder's process id, for
  messages, and keeps older versions (which lock only `.lock`) out.

An advisory lock vanishes with its process, so a crash never leaves a stale lock that blocks the
curator's next start.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from fiqa_gui.core.errors import UserInputError

LOCK_NAME = ".lock"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


class LockFileRefused(UserInputError):
    """`.lock` is a link or not a regular file: refused, never followed or written."""


class ProjectLock:
    """Hold the project's write lock; `acquire()` returns False if another process holds it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / LOCK_NAME
        self._fd: int | None = None
        self._dir_fd: int | None = None

    def acquire(self) -> bool:
        dir_fd = _open_folder(self.folder)
        if dir_fd is not None:
            try:
                _lock(dir_fd)
            except OSError:
                os.close(dir_fd)
                return False
        try:
            fd = _open_lock_file(self.path)
        except BaseException:
            _close(dir_fd)
            raise
        try:
            _lock(fd)
        except OSError:
            os.close(fd)
            _close(dir_fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd, self._dir_fd = fd, dir_fd
        return True

    def holder(self) -> str:
        """The process id written by the current holder, for messages ('' if unknown)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
        except OSError:
            return ""
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return ""
            text = os.read(fd, 64).decode("ascii", "replace").strip()
            return text if text.isdigit() else ""
        finally:
            os.close(fd)

    def release(self) -> None:
        for name in ("_fd", "_dir_fd"):
            fd = getattr(self, name)
            if fd is not None:
                setattr(self, name, None)
                try:
                    _unlock(fd)
                except OSError:
                    pass
                finally:
                    os.close(fd)


def _open_lock_file(path: Path) -> int:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW | _NONBLOCK, 0o644)
    except OSError:
        if path.is_symlink():
            raise LockFileRefused(
                "the project's lock file is a symbolic link; it is not followed (that would "
                "overwrite the file it points to)", file=path,
                fix="delete the link (rm PROJECT/.lock) and open the project again.") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise LockFileRefused("the project's lock file is not a regular file", file=path,
                              fix="remove it and open the project again.")
    return fd


def _close(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)


if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _open_folder(folder: Path) -> int | None:
        return None  # an open .lock cannot be deleted on Windows; it is enough there

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _open_folder(folder: Path) -> int | None:
        return os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

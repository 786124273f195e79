"""Atomic, contained output: files and folders appear complete or not at all, never outside.

The output rule, the same for every command (score, cluster, sample, export, erc, …):

- an output is never a project's own file, nor any input of the project or of the command —
  not even with `--force` (`guard_output(..., protected=...)`; links and hard links count);
- an existing output is replaced only with `force=True`, and a folder only if it is empty or was
  written by this module (it carries `MARKER`), so `--force` can never wipe a folder of images;
- everything is written into a temporary sibling (`.NAME.XXXX.partial`) and renamed into place
  at the end; any exception — including `Cancelled`, Ctrl+C and SIGTERM — removes the temporary
  and leaves the destination as it was. The writer holds an OS lock on its temporary, so one
  left by a killed process (SIGKILL, power cut) is recognised — same name pattern, lock free —
  and removed by the next write to the same destination (`sweep_stale`).
- files get the permissions the umask allows (0644 under umask 022), folders likewise, as any
  program's output would — not the 0600 of a private temporary.

File names built from user data go through `safe_name` + `NameDeduper` (no separators, no `..`,
no control characters, no Windows-reserved names, bounded length, unique ignoring case) and
`assert_inside` checks every final path resolves under the output folder.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import tempfile
import unicodedata
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from fiqa_gui.core.errors import UserInputError

MARKER = ".fiqa-export.json"
_FORBIDDEN = set('<>:"/\\|?*')
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
             *(f"LPT{i}" for i in range(1, 10))}
MAX_NAME_BYTES = 200
# files `force=True` still never replaces: images, embeddings, databases (a mistyped output path
# must not destroy data)
PROTECTED_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff",
                                ".gif", ".npy", ".npz", ".sqlite", ".sqlite-wal",
                                ".sqlite-shm", ".db", ".pt", ".pth", ".onnx"})


# ----------------------------------------------------------------------------- names
def safe_name(name: str, *, fallback: str = "_", max_bytes: int = MAX_NAME_BYTES) -> str:
    """One path component safe on Linux, macOS and Windows, as close to `name` as possible."""
    name = unicodedata.normalize("NFC", str(name))
    chars = ["_" if (c in _FORBIDDEN or ord(c) < 32 or ord(c) == 127) else c for c in name]
    name = "".join(chars).strip().rstrip(". ")
    if name.startswith("."):
        name = "_" + name[1:]  # no '.', '..' or hidden names
    if not name:
        name = fallback
    if name.partition(".")[0].upper().rstrip(" ") in _RESERVED:
        name = "_" + name
    if len(name.encode("utf-8")) > max_bytes:
        stem, suffix = os.path.splitext(name)
        suffix = suffix if len(suffix.encode("utf-8")) <= 16 else ""
        budget = max_bytes - len(suffix.encode("utf-8"))
        stem = stem.encode("utf-8")[:budget].decode("utf-8", errors="ignore").rstrip(". ")
        name = (stem or fallback) + suffix
    return name


class NameDeduper:
    """Hands out names unique within one folder, ignoring case (Windows and macOS ignore it)."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def unique(self, name: str) -> str:
        candidate = name
        stem, suffix = os.path.splitext(name)
        i = 2
        while candidate.casefold() in self._used:
            candidate = f"{stem}~{i}{suffix}"
            i += 1
        self._used.add(candidate.casefold())
        return candidate


def assert_plain_name(name: str) -> str:
    """`name` is one path component that cannot leave its folder; raise otherwise."""
    seps = {os.sep, os.altsep or os.sep, "/", "\\"}
    if name in ("", ".", "..") or any(s in name for s in seps) or "\0" in name:
        raise RuntimeError(f"refusing to write a file named {name!r}")
    return name


def assert_inside(root: str | Path, path: str | Path) -> Path:
    """`path` (whose last component may be a symlink) lies inside `root`; raise otherwise."""
    root_real = os.path.realpath(root)
    path = Path(path)
    real = os.path.join(os.path.realpath(path.parent), path.name)
    if path.name in ("", ".", "..") or os.path.commonpath([root_real, real]) != root_real:
        raise RuntimeError(f"refusing to write {path}: it resolves outside {root}")
    return path


# ----------------------------------------------------------------------------- destinations
class PathGroups:
    """Protected paths given as a few paths plus groups of paths relative to a root — a
    manifest's images without a path string per image held: the joined paths are made one at a
    time, and only when a destination exists and must be checked against them. Iterable any
    number of times (the writers check before and after writing)."""

    def __init__(self, paths: Iterable[str | Path] = (),
                 groups: Iterable[tuple[str | Path, Iterable[str]]] = ()):
        self.paths = list(paths)
        self.groups = [(str(root), rel) for root, rel in groups]

    def __iter__(self) -> Iterator[str | Path]:
        yield from self.paths
        for root, rel in self.groups:
            for p in rel:
                yield p if os.path.isabs(p) else os.path.join(root, p)


def reusable(protected: Iterable[str | Path]) -> Iterable[str | Path]:
    """`protected` in a form that can be iterated more than once (`PathGroups` as it is)."""
    return protected if isinstance(protected, PathGroups) else list(protected)


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _protected_hit(dest: Path, protected: Iterable[str | Path]) -> Path | None:
    """The protected path that writing `dest` would destroy, or None.

    A hit is `dest` itself (by name, through a symlink, or as a hard link of the same file), a
    folder `dest` lies in, or a file inside a folder `dest`. A `dest` that does not exist cannot
    destroy anything (a dangling link is replaced, not followed), so that case costs nothing.
    """
    if not (os.path.exists(dest) or os.path.islink(dest)):
        return None
    real = os.path.realpath(dest)
    try:
        st = os.stat(dest)
    except OSError:
        st = None
    for p in protected:
        p_real = os.path.realpath(p)
        if real == p_real or _inside(real, p_real) or _inside(p_real, real):
            return Path(p)
        if st is not None and stat.S_ISREG(st.st_mode):
            try:
                if _same_file(st, os.stat(p)):
                    return Path(p)
            except OSError:
                pass
    return None


def _inside(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip(os.sep) + os.sep)


def guard_output(dest: str | Path, *, force: bool = False, kind: str = "file",
                 protected: Iterable[str | Path] = ()) -> Path:
    """Check `dest` against the output rule (module docstring); return it as an absolute path.

    `protected`: the paths no output may be — a project's own files (`Project.protected_paths`)
    and the inputs of the project and of this command (manifest, embeddings, head, images).
    Refused even with `force`. An existing `dest` is refused without `force`; with it, a file
    that is a folder or a data file (`PROTECTED_SUFFIXES`), or a folder not written by us, is
    still refused. Raises `UserInputError` (exit 2, one line) naming `dest`.
    """
    dest = Path(dest).absolute()
    hit = _protected_hit(dest, protected)
    if hit is not None:
        raise UserInputError(
            f"refusing to write the output there: it would replace {hit}, an input or part of "
            "the project (never replaced, even with --force)", file=dest,
            fix="give the output a new path of its own.")
    return check_destination(dest, force=force, kind=kind)


def check_destination(dest: str | Path, *, force: bool, kind: str) -> Path:
    """Refuse an existing destination unless `force` (and, for folders, unless it is ours)."""
    dest = Path(dest).absolute()
    if not (dest.exists() or dest.is_symlink()):
        return dest
    if not force:
        raise UserInputError("the output already exists", file=dest,
                             fix="choose another path, or pass --force to replace it.")
    if kind == "file":
        if dest.is_dir() and not dest.is_symlink():
            raise UserInputError("the output path is a folder, not a file", file=dest,
                                 fix="give a file name for this output.")
        if dest.suffix.lower() in PROTECTED_SUFFIXES:
            raise UserInputError("the output path is an existing data file (image, embeddings "
                                 "or database); it is not replaced even with --force",
                                 file=dest, fix="give the export its own file name.")
    elif kind == "dir":
        if dest.is_symlink() or not dest.is_dir():
            raise UserInputError("the output path exists and is not a folder", file=dest,
                                 fix="choose a new folder for this output.")
        if not (dest / MARKER).is_file() and any(dest.iterdir()):
            raise UserInputError(
                "the folder exists and was not written by 'fiqa-gui export'; it is not replaced "
                "even with --force", file=dest, fix="choose a new folder, or empty this one.")
    else:
        raise ValueError(kind)
    return dest


def _prepare_parent(dest: Path) -> None:
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserInputError(f"cannot create the output folder ({err.strerror})",
                             file=dest.parent, fix="choose a folder you can write to.") from None


def write_error(err: OSError, dest: Path) -> UserInputError:
    """The one-line message for an OS error while writing `dest` (full disk, read-only, …)."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return UserInputError(f"not enough space to write the output ({err.strerror}); nothing "
                              "was written", file=dest,
                              fix="free some disk space, or write to another drive.")
    return UserInputError(f"cannot write the output ({err.strerror or err}); nothing was "
                          "written", file=dest, fix="choose a folder you can write to.")


# ----------------------------------------------------------------------------- modes, leftovers
def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux /proc)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: read by setting and restoring (start-up, one thread)
    os.umask(mask)
    return mask


def public_mode(path: str | Path, *, folder: bool = False) -> None:
    """Give a temporary file (0600) or folder (0700) the mode a normal output would get."""
    if os.name != "posix":
        return
    try:
        os.chmod(path, (0o777 if folder else 0o666) & ~current_umask())
    except OSError:
        pass


def hold_temporary(path: Path, *, folder: bool = False) -> int | None:
    """Take an exclusive OS lock on a temporary we made, so a sweeper knows it is in use."""
    if os.name != "posix":
        return None
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | (os.O_DIRECTORY if folder else 0))
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd
    except OSError:
        return None


def release_temporary(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing the last descriptor drops the flock


def is_abandoned(path: str | Path) -> bool:
    """True when nobody holds the lock of a temporary (its writer died); False if in use."""
    path = Path(path)
    if os.name != "posix":  # Windows: an open file cannot be deleted, which is the test
        return True
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def sweep_stale(folder: str | Path, prefix: str, suffixes: tuple[str, ...]) -> list[Path]:
    """Remove temporaries that a killed writer left in `folder`: names `prefix*SUFFIX` made by
    this program, whose lock nobody holds. Returns what was removed."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(suffixes)):
            continue
        path = Path(entry.path)
        if entry.is_symlink() or not is_abandoned(path):
            continue
        if name.endswith(".old") and not (path / MARKER).is_file():
            continue  # an `.old` folder is removed only when it is one of our exports
        _remove(path)
        removed.append(path)
    return removed


def _temp_prefix(dest: Path) -> str:
    return f".{dest.name[:60]}."


# ----------------------------------------------------------------------------- writers
@contextmanager
def atomic_file(dest: str | Path, *, force: bool = False, binary: bool = False,
                encoding: str = "utf-8", newline: str | None = "",
                protected: Iterable[str | Path] = ()) -> Iterator[IO]:
    """Open a temporary sibling of `dest` for writing; rename it over `dest` on success.

    `dest` is checked by `guard_output` before and again just before the rename. A full disk or
    a read-only folder raises `UserInputError`, with the temporary removed.
    """
    protected = reusable(protected)
    dest = guard_output(dest, force=force, kind="file", protected=protected)
    _prepare_parent(dest)
    sweep_stale(dest.parent, _temp_prefix(dest), (".partial",))
    try:
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(dest), suffix=".partial",
                                   dir=dest.parent)
    except OSError as err:
        raise write_error(err, dest) from None
    held = hold_temporary(Path(tmp))
    try:
        public_mode(tmp)
        mode = "wb" if binary else "w"
        kwargs = {} if binary else {"encoding": encoding, "newline": newline}
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        guard_output(dest, force=force, kind="file", protected=protected)  # appeared meanwhile?
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    except OSError as err:
        _remove(Path(tmp))
        raise write_error(err, dest) from None
    except BaseException:
        _remove(Path(tmp))
        raise
    finally:
        release_temporary(held)


@contextmanager
def atomic_dir(dest: str | Path, *, force: bool = False, marker: dict | None = None,
               protected: Iterable[str | Path] = ()) -> Iterator[Path]:
    """Yield an empty temporary sibling folder of `dest`; move it to `dest` on success."""
    protected = reusable(protected)
    dest = guard_output(dest, force=force, kind="dir", protected=protected)
    _prepare_parent(dest)
    sweep_stale(dest.parent, _temp_prefix(dest), (".partial", ".old"))
    try:
        tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(dest), suffix=".partial",
                                    dir=dest.parent))
    except OSError as err:
        raise write_error(err, dest) from None
    held = hold_temporary(tmp, folder=True)
    try:
        public_mode(tmp, folder=True)
        yield tmp
        (tmp / MARKER).write_text(json.dumps(marker or {}, indent=1, sort_keys=True),
                                  encoding="utf-8")
        guard_output(dest, force=force, kind="dir", protected=protected)
        _swap_in(tmp, dest)
        _fsync_dir(dest.parent)
    except OSError as err:
        _remove(tmp)
        raise write_error(err, dest) from None
    except BaseException:
        _remove(tmp)
        raise
    finally:
        release_temporary(held)


def _swap_in(tmp: Path, dest: Path) -> None:
    if not dest.exists():
        os.rename(tmp, dest)
        return
    old = dest.parent / f"{_temp_prefix(dest)}{uuid.uuid4().hex[:8]}.old"
    os.rename(dest, old)
    try:
        os.rename(tmp, dest)
    except BaseException:
        os.rename(old, dest)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

"""Atomic, contained output: files and folders appear complete or not at all, never outside.

Everything is written into a temporary sibling (`.NAME.XXXX.partial`) and renamed into place at the
end; any exception — including `Cancelled` and Ctrl+C — removes the temporary and leaves the
destination as it was. An existing destination is replaced only with `force=True`, and a folder
only if it is empty or was written by this module (it carries `MARKER`), so `--force` can never
wipe a folder of someone's images.

File names built from user data go through `safe_name` + `NameDeduper` (no separators, no `..`,
no control characters, no Windows-reserved names, bounded length, unique ignoring case) and
`assert_inside` checks every final path resolves under the output folder.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import unicodedata
import uuid
from collections.abc import Iterator
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


@contextmanager
def atomic_file(dest: str | Path, *, force: bool = False, binary: bool = False,
                encoding: str = "utf-8", newline: str | None = "") -> Iterator[IO]:
    """Open a temporary sibling of `dest` for writing; rename it over `dest` on success."""
    dest = check_destination(dest, force=force, kind="file")
    _prepare_parent(dest)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name[:60]}.", suffix=".partial", dir=dest.parent)
    try:
        mode = "wb" if binary else "w"
        kwargs = {} if binary else {"encoding": encoding, "newline": newline}
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        check_destination(dest, force=force, kind="file")  # appeared meanwhile?
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    except BaseException:
        _remove(Path(tmp))
        raise


@contextmanager
def atomic_dir(dest: str | Path, *, force: bool = False,
               marker: dict | None = None) -> Iterator[Path]:
    """Yield an empty temporary sibling folder of `dest`; move it to `dest` on success."""
    dest = check_destination(dest, force=force, kind="dir")
    _prepare_parent(dest)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name[:60]}.", suffix=".partial",
                                dir=dest.parent))
    try:
        yield tmp
        (tmp / MARKER).write_text(json.dumps(marker or {}, indent=1, sort_keys=True),
                                  encoding="utf-8")
        check_destination(dest, force=force, kind="dir")
        _swap_in(tmp, dest)
        _fsync_dir(dest.parent)
    except BaseException:
        _remove(tmp)
        raise


def _swap_in(tmp: Path, dest: Path) -> None:
    if not dest.exists():
        os.rename(tmp, dest)
        return
    old = dest.parent / f".{dest.name[:60]}.{uuid.uuid4().hex[:8]}.old"
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

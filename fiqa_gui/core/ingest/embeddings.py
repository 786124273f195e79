"""Load and validate embeddings (`.npy` N×d, memory-mapped; or `.npz`), rows in manifest order.

The `.npy` header is read and checked before numpy maps or loads anything: a file that is not a
numpy array at all (text, a pickle), a header with impossible dimensions, an array that claims
more bytes than the file holds (truncated, or an `.npz` member claiming a huge shape) each get
their own one-line message instead of an allocation or a crash.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from fiqa_gui.core.errors import UserInputError

NPZ_KEYS = ("embeddings", "embedding", "features", "feats", "x")
CHUNK_ROWS = 65536
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"
RESAVE = "save a float32 N×d array with numpy.save."


def _describe_start(head: bytes) -> str:
    if head.startswith(b"\x80"):
        return "a Python pickle, not a numpy array file"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "not a numpy array file"
    return f"a text file (it starts with {text[:20]!r}), not a numpy array file"


def check_npy_header(f, path: Path, available: int, member: str = "") -> tuple:
    """Read and check a `.npy` header from the open binary file `f`; return the shape.

    `available` is the size in bytes of the whole `.npy` data (the file, or the `.npz` member).
    """
    where = f" (array {member!r})" if member else ""
    head = f.read(len(NPY_MAGIC))
    if head != NPY_MAGIC:
        raise UserInputError(f"the file is {_describe_start(head + f.read(14))}{where}",
                             file=path, fix=RESAVE)
    f.seek(f.tell() - len(NPY_MAGIC))
    try:
        version = np.lib.format.read_magic(f)
        reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                  else np.lib.format.read_array_header_2_0)
        shape, _fortran, dtype = reader(f)
    except (ValueError, SyntaxError, TypeError) as err:
        raise UserInputError(f"the numpy header cannot be read{where} ({err})", file=path,
                             fix=RESAVE) from None
    if any(int(d) < 0 for d in shape):
        raise UserInputError(f"the numpy header claims negative dimensions {shape}{where}",
                             file=path, fix="the file is damaged; " + RESAVE)
    if dtype.hasobject:
        raise UserInputError(f"the array holds Python objects (dtype={dtype}){where}, not "
                             "numbers", file=path, fix=RESAVE)
    needed = f.tell() + math.prod(int(d) for d in shape) * dtype.itemsize
    if needed > available:
        raise UserInputError(
            f"the array{where} claims shape {shape} of {dtype} ({needed:,} bytes) but the file "
            f"holds only {available:,} bytes: it is truncated or damaged", file=path,
            fix="export it again with numpy.save.")
    return shape


def load_embeddings(path: str | Path, *, mmap: bool = True) -> np.ndarray:
    """Open an embeddings array without validating its rows (see `validate_embeddings`).

    `.npy` files are memory-mapped, so a 12 GB file costs no memory until rows are read.
    """
    path = Path(path)
    if not path.is_file():
        raise UserInputError("the embeddings file does not exist", file=path,
                             fix="check the path passed to --embeddings.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            with open(path, "rb") as f:
                check_npy_header(f, path, path.stat().st_size)
        if suffix == ".npz":
            arr = _load_npz(path)
        elif suffix == ".npy":
            arr = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        else:
            raise UserInputError(f"unsupported embeddings format '{suffix or path.name}'",
                                 file=path, fix="save the embeddings with numpy.save (.npy) "
                                 "or numpy.savez (.npz).")
    except UserInputError:
        raise
    except ValueError as err:
        raise UserInputError(f"cannot read the array: {err}", file=path, fix=RESAVE) from None
    except MemoryError:
        raise UserInputError("the array is too large to load into memory", file=path,
                             fix="save it as .npy (memory-mapped, never loaded whole).") from None
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise UserInputError(f"cannot read the array ({err})", file=path,
                             fix="the file is truncated or not a numpy file; export it again "
                             "with numpy.save.") from None
    _check_shape_and_dtype(arr, path)
    return arr


def _load_npz(path: Path) -> np.ndarray:
    with open(path, "rb") as f:
        if f.read(4) != ZIP_MAGIC:
            f.seek(0)
            raise UserInputError(f"the file is {_describe_start(f.read(20))} (.npz expected)",
                                 file=path, fix="save the embeddings with numpy.savez.")
    with np.load(path, allow_pickle=False) as npz:
        keys = list(npz.keys())
        key = keys[0] if len(keys) == 1 else next((k for k in NPZ_KEYS if k in keys), None)
        if key is not None:
            info = npz.zip.getinfo(f"{key}.npy")
            with npz.zip.open(info) as member:
                check_npy_header(member, path, info.file_size, member=key)
            return npz[key]
    raise UserInputError(
        f"the .npz holds several arrays ({', '.join(keys)}) and none is named 'embeddings'",
        file=path, fix="save the array under the name 'embeddings' "
        "(numpy.savez(file, embeddings=X)).")


def _check_shape_and_dtype(arr: np.ndarray, path: Path) -> None:
    if arr.ndim != 2:
        raise UserInputError(
            f"expected a 2-D array (images × dimensions), got shape {arr.shape}",
            file=path, fix="save one row per image: an N×d array, e.g. X.reshape(N, -1).")
    if not np.issubdtype(arr.dtype, np.floating):
        raise UserInputError(
            f"expected floating-point embeddings, got dtype {arr.dtype}",
            file=path, fix="convert with X.astype('float32') before saving.")
    if arr.shape[1] < 2:
        raise UserInputError(f"embeddings have {arr.shape[1]} dimension(s); need at least 2",
                             file=path, fix="save one row per image: an N×d array.")


def validate_embeddings(arr: np.ndarray, path: str | Path, n_rows: int,
                        row_names: list[str] | None = None) -> None:
    """Check the row count against the manifest and reject NaN/inf or all-zero rows.

    Rows are scanned in chunks so a memory-mapped file is never loaded whole.
    """
    if arr.shape[0] != n_rows:
        raise UserInputError(
            f"the embeddings have {arr.shape[0]} rows but the image list has {n_rows}",
            file=path, fix="export one embedding row per manifest row, in manifest order.")
    bad_nonfinite: list[int] = []
    bad_zero: list[int] = []
    for start in range(0, arr.shape[0], CHUNK_ROWS):
        block = np.asarray(arr[start:start + CHUNK_ROWS])
        finite = np.isfinite(block).all(axis=1)
        bad_nonfinite.extend((np.flatnonzero(~finite) + start).tolist())
        # all zeros, or so small (subnormal) that the squared norm underflows in float32:
        # such a row has no direction, and normalising it gives NaN everywhere downstream
        with np.errstate(under="ignore", over="ignore"):
            sq = np.square(block.astype(np.float32, copy=False)).sum(axis=1)
        zero = finite & (sq < np.finfo(np.float32).tiny)
        bad_zero.extend((np.flatnonzero(zero) + start).tolist())
    for rows, what in ((bad_nonfinite, "contain NaN or infinite values"),
                       (bad_zero, "are all zeros or too close to zero to normalise")):
        if rows:
            named = ""
            if row_names is not None:
                named = " (" + ", ".join(row_names[r] for r in rows[:5]) + (
                    ", …" if len(rows) > 5 else "") + ")"
            raise UserInputError(
                f"{len(rows)} embedding row(s) {what}{named}", file=path, rows=rows,
                row_kind="numpy row",
                fix="re-embed those images, or drop them from the manifest and the array.")

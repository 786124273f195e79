"""Load and validate embeddings (`.npy` N×d, memory-mapped; or `.npz`), rows in manifest order."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from fiqa_gui.core.errors import UserInputError

NPZ_KEYS = ("embeddings", "embedding", "features", "feats", "x")
CHUNK_ROWS = 65536


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
        msg = str(err)
        if "pickle" in msg:
            msg = "the array holds Python objects (dtype=object), not numbers"
        raise UserInputError(f"cannot read the array: {msg}", file=path,
                             fix="save a float32 N×d array with numpy.save.") from None
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise UserInputError(f"cannot read the array ({err})", file=path,
                             fix="the file is truncated or not a numpy file; export it again "
                             "with numpy.save.") from None
    _check_shape_and_dtype(arr, path)
    return arr


def _load_npz(path: Path) -> np.ndarray:
    with np.load(path, allow_pickle=False) as npz:
        keys = list(npz.keys())
        if len(keys) == 1:
            return npz[keys[0]]
        for k in NPZ_KEYS:
            if k in keys:
                return npz[k]
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
        zero = finite & ~np.any(block != 0, axis=1)
        bad_zero.extend((np.flatnonzero(zero) + start).tolist())
    for rows, what in ((bad_nonfinite, "contain NaN or infinite values"),
                       (bad_zero, "are all zeros")):
        if rows:
            named = ""
            if row_names is not None:
                named = " (" + ", ".join(row_names[r] for r in rows[:5]) + (
                    ", …" if len(rows) > 5 else "") + ")"
            raise UserInputError(
                f"{len(rows)} embedding row(s) {what}{named}", file=path, rows=rows,
                row_kind="numpy row",
                fix="re-embed those images, or drop them from the manifest and the array.")

"""Write per-image scores as CSV, one row per manifest row in manifest order (atomic write).

Columns: `path,cluster,sdd,sdd_signed,cr,ccs,nnccs,iq,quality,flags` then any extra per-image
columns (image-quality cues). NaN is written as an empty cell; flags are `;`-separated.
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from fiqa_gui.core.errors import UserInputError

BASE_COLUMNS = ("sdd", "sdd_signed", "cr", "ccs", "nnccs", "iq", "quality")


def _cell(x) -> str:
    x = float(x)
    return "" if math.isnan(x) else f"{x:.6g}"


def write_scores_csv(out: str | Path, paths: Sequence[str], clusters: Sequence[str],
                     columns: Mapping[str, np.ndarray], flags: Sequence[Sequence[str]],
                     extra: Mapping[str, np.ndarray] | None = None) -> Path:
    """Write the table to `out` via a temporary file + rename, so no half-written CSV remains."""
    out = Path(out)
    if out.is_dir():
        raise UserInputError("the output path is a folder", file=out,
                             fix="give a file name such as scores.csv.")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise UserInputError("the output folder does not exist", file=parent,
                             fix="create it first or choose another --out.")
    n = len(paths)
    cols = {c: np.asarray(columns[c], dtype=float) if c in columns else np.full(n, np.nan)
            for c in BASE_COLUMNS}
    extra = {k: np.asarray(v, dtype=float) for k, v in (extra or {}).items()
             if k not in BASE_COLUMNS}
    header = ["path", "cluster", *BASE_COLUMNS, "flags", *extra]
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent)
    except OSError as err:
        raise UserInputError(f"cannot write there ({err.strerror})", file=out,
                             fix="choose a folder you can write to.") from None
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(header)
            for i in range(n):
                w.writerow([paths[i], clusters[i], *(_cell(cols[c][i]) for c in BASE_COLUMNS),
                            ";".join(flags[i]), *(_cell(v[i]) for v in extra.values())])
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def read_scores_csv(path: str | Path) -> dict[str, list]:
    """Read a scores CSV back (for tests and round trips): column name → list of cells."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    return {h: [r[j] for r in body] for j, h in enumerate(header)}

"""Write per-image scores as CSV, one row per manifest row in manifest order (atomic write).

Columns: `path,cluster,sdd,sdd_signed,cr,ccs,nnccs,iq,quality,flags` then any extra per-image
columns (image-quality cues). NaN is written as an empty cell; flags are `;`-separated.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from fiqa_gui.core.atomic_output import atomic_file, guard_output, reusable
from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.scoring.flag_lists import FlagLists

BASE_COLUMNS = ("sdd", "sdd_signed", "cr", "ccs", "nnccs", "iq", "quality")
ROWS_PER_BLOCK = 65536


def _cells(values: np.ndarray) -> list[str]:
    """A column as CSV cells: 6 significant digits, NaN as an empty cell. One `format` per
    value over a Python list (no per-cell float() and isnan calls): a million rows × 20
    columns in seconds. A block is widened to float64 here, not the whole column up front."""
    values = np.asarray(values, dtype=float)
    nan = np.isnan(values)
    if nan.all():  # a column not measured (pixel cues without images): no format calls
        return [""] * len(values)
    cells = [format(x, ".6g") for x in values.tolist()]
    for i in np.flatnonzero(nan).tolist():
        cells[i] = ""
    return cells


def _joined(flags: Sequence[Sequence[str]], a: int, b: int) -> list[str]:
    """Rows a..b of the flags as `;`-joined cells (`FlagLists`: one join per distinct code)."""
    if isinstance(flags, FlagLists):
        return flags.joined(";", a, b)
    return [";".join(f) for f in flags[a:b]]


def write_scores_csv(out: str | Path, paths: Sequence[str], clusters: Sequence[str],
                     columns: Mapping[str, np.ndarray], flags: Sequence[Sequence[str]],
                     extra: Mapping[str, np.ndarray] | None = None, *, force: bool = False,
                     protected: Iterable[str | Path] = ()) -> Path:
    """Write the table to `out` via a temporary file + rename, so no half-written CSV remains.

    The output rule of `atomic_output.guard_output` applies: never one of `protected` (the
    project's files, the manifest, embeddings, images), an existing file only with `force`.
    """
    out = Path(out)
    if out.is_dir():
        raise UserInputError("the output path is a folder", file=out,
                             fix="give a file name such as scores.csv.")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise UserInputError("the output folder does not exist", file=parent,
                             fix="create it first or choose another --out.")
    n = len(paths)
    # columns as given (float32 stays float32): each block is widened in `_cells`
    cols = {c: np.asarray(columns[c]) if c in columns else np.full(n, np.nan, np.float32)
            for c in BASE_COLUMNS}
    extra = {k: np.asarray(v) for k, v in (extra or {}).items() if k not in BASE_COLUMNS}
    header = ["path", "cluster", *BASE_COLUMNS, "flags", *extra]
    protected = reusable(protected)
    out = guard_output(out, force=force, kind="file", protected=protected)
    with atomic_file(out, force=force, protected=protected) as f:
        w = csv.writer(f)
        w.writerow(header)
        for a in range(0, n, ROWS_PER_BLOCK):  # blocks of rows: the cells never all in memory
            b = min(n, a + ROWS_PER_BLOCK)
            w.writerows(zip(paths[a:b], clusters[a:b],
                            *(_cells(cols[c][a:b]) for c in BASE_COLUMNS),
                            _joined(flags, a, b),
                            *(_cells(v[a:b]) for v in extra.values()), strict=True))
    return out


def write_run_csv(project, run_id: int, out: str | Path, *, force: bool = False,
                  protected: Iterable[str | Path] = ()) -> Path:
    """`write_scores_csv` of one stored run of `project`: every image in project order, the run's
    score columns, then every other column it holds (cues, quality parts, `learned`, …)."""
    ds = project.dataset()
    s = project.scores(run_id)
    extra = {k: v for k, v in s.items() if k != "flags" and k not in BASE_COLUMNS}
    return write_scores_csv(out, ds.paths, ds.clusters, s, s["flags"], extra, force=force,
                            protected=protected)


def read_scores_csv(path: str | Path) -> dict[str, list]:
    """Read a scores CSV back (for tests and round trips): column name → list of cells."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    return {h: [r[j] for r in body] for j, h in enumerate(header)}

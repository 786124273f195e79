"""The label sources an ERC compares, one value per image (higher = better quality):

* any score column of a run — `sdd`, `cr`, `iq`, `quality`, … of the chosen run, or
  `COLUMN@RUN` for the same column of another run (a table's numeric columns in file mode);
* `curated` — the label the export writes (`project_export.corrected_label`): the curator's
  corrected score, else the value of the curator's tier, else `quality` (else `sdd`);
* `random` — a seeded uniform baseline, what a label that knows nothing scores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.export.project_export import corrected_label

CURATED = "curated"
RANDOM = "random"
SPECIAL = (CURATED, RANDOM)


def parse_columns(text: str | Sequence[str]) -> list[str]:
    """`"quality,sdd,cr"` → ['quality', 'sdd', 'cr']; duplicates dropped, order kept."""
    names = text.split(",") if isinstance(text, str) else list(text)
    names = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    if not names:
        raise UserInputError("no label source given",
                             fix="e.g. --columns quality,sdd,cr,curated,random.")
    return names


def random_quality(n: int, seed: int) -> np.ndarray:
    """The random baseline: one uniform value per image, from `seed`."""
    return np.random.default_rng([seed, 0x52414E44]).random(n)  # own stream, not the pairs'


def curated_quality(project, run_id: int | None) -> np.ndarray:
    """Every image's curated label (the export's rule); NaN where none applies."""
    rows = project.conn.execute(
        "SELECT i.id, a.corrected_score, a.tier, s.quality, s.sdd FROM images i "
        "LEFT JOIN annotations a ON a.image_id = i.id "
        "LEFT JOIN scores s ON s.image_id = i.id AND s.run_id = ? ORDER BY i.id",
        (-1 if run_id is None else run_id,)).fetchall()
    out = np.full(len(rows), np.nan)
    for image_id, corrected, tier, quality, sdd in rows:
        label, _ = corrected_label(corrected, tier, quality, sdd)
        if label is not None:
            out[image_id] = label
    return out


def _run_columns(project, run_id: int, cache: dict) -> dict[str, np.ndarray]:
    if run_id not in cache:
        ids = {r.id for r in project.runs()}
        if run_id not in ids:
            raise UserInputError(f"run {run_id} does not exist in this project",
                                 file=project.folder,
                                 fix="list the runs with 'fiqa-gui info PROJECT'.")
        cache[run_id] = {k: np.asarray(v, dtype=float) for k, v in
                         project.scores(run_id).items() if k != "flags"}
    return cache[run_id]


def project_sources(project, names: Sequence[str], *, run_id: int | None,
                    seed: int = 0) -> dict[str, np.ndarray]:
    """The named sources of a project's images (image-id order); `run_id` is the default run
    of plain column names (None: the project has no scoring run)."""
    n = project.image_count()
    cache: dict[int, dict[str, np.ndarray]] = {}
    out = {}
    for name in names:
        if name == RANDOM:
            out[name] = random_quality(n, seed)
            continue
        if name == CURATED:
            out[name] = curated_quality(project, run_id)
            continue
        column, _, run_text = name.partition("@")
        if run_text:
            try:
                run = int(run_text)
            except ValueError:
                raise UserInputError(f"{name!r}: the run after '@' must be a number",
                                     fix="e.g. sdd@2 for the sdd column of run 2.") from None
        elif run_id is None:
            raise UserInputError(f"the project has no scoring run, so it has no {name!r} column",
                                 file=project.folder, fix="score it first: fiqa-gui score "
                                 "PROJECT (or compare only 'random').")
        else:
            run = run_id
        columns = _run_columns(project, run, cache)
        if column not in columns:
            raise UserInputError(
                f"unknown label source {name!r}: run {run} has the columns "
                f"{', '.join(columns)}", file=project.folder,
                fix=f"choose from those, or {' / '.join(SPECIAL)}.")
        out[name] = columns[column]
    return out


def _float_cell(cell: str) -> float:
    cell = cell.strip()
    return math.nan if cell == "" else float(cell)


def table_sources(table: dict[str, list[str]], names: Sequence[str], n: int, *, seed: int = 0,
                  file=None) -> dict[str, np.ndarray]:
    """The named sources from a score table (`score --out` CSV: column → cells, one row per
    manifest row); empty cells are NaN. `curated` needs a project's annotations."""
    rows = len(next(iter(table.values()), []))
    if rows != n:
        raise UserInputError(f"the scores table has {rows} rows but the manifest has {n}",
                             file=file, fix="pass the scores written for this manifest "
                             "(fiqa-gui score --manifest … --out), one row per manifest row.")
    out = {}
    for name in names:
        if name == RANDOM:
            out[name] = random_quality(n, seed)
            continue
        if name == CURATED:
            raise UserInputError("'curated' needs a project (the curator's corrections live "
                                 "there)", file=file, fix="evaluate the PROJECT folder, or leave "
                                 "'curated' out.")
        if name not in table:
            raise UserInputError(f"unknown label source {name!r}: the table has the columns "
                                 f"{', '.join(table)}", file=file,
                                 fix="choose from those, or 'random'.")
        values = np.empty(n)
        for j, cell in enumerate(table[name]):
            try:
                values[j] = _float_cell(cell)
            except ValueError:
                raise UserInputError(f"column {name!r} holds {cell!r}, not a number", file=file,
                                     row=j + 2, row_kind="line",
                                     fix="give numbers (an empty cell means no value).") from None
        out[name] = values
    return out

"""One call per kind of input that `fiqa-gui erc` and the window's "Evaluate labels" panel both
make: a project (its current clusters, embeddings, runs and annotations), or stand-alone files
(a manifest, its embeddings and a score table)."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.evaluation.erc import ErcResult, check_fmrs, compute_erc
from fiqa_gui.core.evaluation.label_sources import parse_columns, project_sources, table_sources
from fiqa_gui.core.evaluation.pairs import (
    DEFAULT_MAX_PAIRS,
    build_pairs,
    check_labels,
    impostor_pairs_used,
)
from fiqa_gui.core.progress import CancelToken, ProgressCallback, no_progress
from fiqa_gui.core.seedsets.sampling import latest_score_run

DEFAULT_COLUMNS = ("quality", "sdd", "cr", "curated", "random")
DEFAULT_FMRS = (1e-3,)


def evaluate_arrays(embeddings: np.ndarray, labels: np.ndarray,
                    sources: dict[str, np.ndarray], *, fmrs: Sequence[float] = DEFAULT_FMRS,
                    variant: str = "fixed", bootstrap: int = 0, seed: int = 0,
                    max_pairs: int = DEFAULT_MAX_PAIRS, progress: ProgressCallback = no_progress,
                    cancel: CancelToken | None = None, backend=None) -> ErcResult:
    """ERC of `sources` (name → one value per row) for rows with `embeddings` and `labels`;
    `backend` (`scoring.distributed.RayBackend`) scores sampled pairs on a Ray cluster."""
    t0 = time.perf_counter()
    check_labels(labels)
    check_fmrs(fmrs, impostor_pairs_used(labels, max_pairs))  # before the slow part
    pairs = build_pairs(embeddings, labels, max_pairs=max_pairs, seed=seed, progress=progress,
                        cancel=cancel, backend=backend)
    result = compute_erc(pairs, sources, fmrs, variant=variant, bootstrap=bootstrap, seed=seed,
                         progress=progress, cancel=cancel)
    result.info["images"] = int(len(labels))
    if backend is not None:
        result.info["backend"] = backend.describe()
    result.info["seconds"] = round(time.perf_counter() - t0, 3)
    return result


def evaluate_project(project, columns: str | Sequence[str] = DEFAULT_COLUMNS, *,
                     run_id: int | None = None, fmrs: Sequence[float] = DEFAULT_FMRS,
                     variant: str = "fixed", bootstrap: int = 0, seed: int = 0,
                     max_pairs: int = DEFAULT_MAX_PAIRS,
                     progress: ProgressCallback = no_progress,
                     cancel: CancelToken | None = None, backend=None) -> ErcResult:
    """ERC of a project's label sources over its current clusters; `run_id` (default: the
    newest scoring run) supplies plain column names and `curated`'s fallback."""
    names = parse_columns(columns)
    run_id = latest_score_run(project) if run_id is None else int(run_id)
    emb = project.embeddings()
    if emb is None:
        raise UserInputError("the project has no embeddings to compare images with",
                             file=project.folder, fix="create it again with --embeddings.")
    sources = project_sources(project, names, run_id=run_id, seed=seed)
    result = evaluate_arrays(emb, project.image_cluster_ids(), sources, fmrs=fmrs,
                             variant=variant, bootstrap=bootstrap, seed=seed,
                             max_pairs=max_pairs, progress=progress, cancel=cancel,
                             backend=backend)
    result.info.update({"project": str(project.folder), "run_id": run_id})
    return result


def read_score_table(path: str | Path) -> dict[str, list[str]]:
    """A CSV with a header row as column → cells; bad files are `UserInputError`s."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError("the scores table does not exist", file=path,
                             fix="check the path passed to --scores.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise UserInputError("the scores table is not UTF-8 text", file=path,
                             fix="save it as UTF-8 CSV.") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = [(reader.line_num, r) for r in reader if r]
    except csv.Error as err:
        raise UserInputError(f"the CSV cannot be parsed ({err})", file=path,
                             row=reader.line_num, row_kind="line",
                             fix="check the quoting on that line.") from None
    if not rows:
        raise UserInputError("the scores table is empty", file=path,
                             fix="pass the CSV written by 'fiqa-gui score … --out'.")
    header = [h.strip() for h in rows[0][1]]
    for line, r in rows[1:]:
        if len(r) != len(header):
            raise UserInputError(f"the row has {len(r)} fields, the header {len(header)}",
                                 file=path, row=line, row_kind="line",
                                 fix="give every row one cell per header column.")
    return {h: [r[j] for _, r in rows[1:]] for j, h in enumerate(header)}


def evaluate_files(manifest: str | Path, embeddings: str | Path, scores: str | Path,
                   columns: str | Sequence[str] = ("quality", "sdd", "cr", "random"), *,
                   fmrs: Sequence[float] = DEFAULT_FMRS, variant: str = "fixed",
                   bootstrap: int = 0, seed: int = 0, max_pairs: int = DEFAULT_MAX_PAIRS,
                   progress: ProgressCallback = no_progress,
                   cancel: CancelToken | None = None, backend=None) -> ErcResult:
    """ERC of a score table's columns (one row per manifest row, in its order)."""
    from fiqa_gui.core.ingest.loading import load_data

    names = parse_columns(columns)
    data = load_data(manifest=manifest, embeddings=embeddings, check_images=False,
                     progress=progress, cancel=cancel)
    ds = data.dataset
    table = read_score_table(scores)
    sources = table_sources(table, names, len(ds), seed=seed, file=scores)
    if "path" in table:
        for j, (got, want) in enumerate(zip(table["path"], ds.paths, strict=True)):
            if got != want:
                raise UserInputError(f"the path {got!r} is not the manifest's {want!r} of this "
                                     "row", file=scores, row=j + 2, row_kind="line",
                                     fix="pass the scores written for this manifest, in its "
                                     "order.")
    result = evaluate_arrays(data.embeddings, ds.labels, sources, fmrs=fmrs, variant=variant,
                             bootstrap=bootstrap, seed=seed, max_pairs=max_pairs,
                             progress=progress, cancel=cancel, backend=backend)
    result.info.update({"manifest": str(Path(manifest).absolute()),
                        "embeddings": str(Path(embeddings).absolute()),
                        "scores": str(Path(scores).absolute())})
    return result

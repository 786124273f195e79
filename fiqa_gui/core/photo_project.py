"""A new project from photos: embed them (`ingest.embed`), then build the project through the
same `load_data` + `Project.create` path as data that arrives with its own embeddings.

The embedding work lives in a staging folder beside the project (`.NAME.photos-KEY`), keyed by
the input, the model and the recipe, so a cancelled or killed run continues where it stopped.
When every photo is done, the staging folder holds an ordinary manifest of the aligned crops
(`crops.csv`: path, cluster, the manifest's own attributes, `source_path`, `faces_in_photo`,
`embedding_norm`, `detection`) and its `embeddings.npy`; the project is created from them and
the crops, the manifest, `embedding.json` (model and preprocessing) and `no_face.csv` (photos
skipped because no face was found) are moved into the project folder. The same model and
preprocessing are stored as the project's `embed` run, with `embedding_norm` and
`faces_in_photo` as its per-image columns.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.ingest.dataset import Dataset
from fiqa_gui.core.ingest.embed.centering import center_embeddings
from fiqa_gui.core.ingest.embed.models import open_model
from fiqa_gui.core.ingest.embed.pipeline import EmbeddingRun, embed_photos
from fiqa_gui.core.ingest.embed.preprocessing import Preprocessing
from fiqa_gui.core.ingest.embed.staging import CROPS_DIR, Staging, job_key
from fiqa_gui.core.ingest.image_check import check_files_exist
from fiqa_gui.core.ingest.image_folder import read_image_folder
from fiqa_gui.core.ingest.loading import load_data
from fiqa_gui.core.ingest.manifest import read_manifest
from fiqa_gui.core.progress import CancelToken, ProgressCallback, no_progress
from fiqa_gui.core.store.project import DB_NAME, Project

MANIFEST_NAME = "crops.csv"
RECIPE_NAME = "embedding.json"
NO_FACE_NAME = "no_face.csv"
RAW_NAME = "embeddings_raw.npy"
READY_NAME = "READY"
MOVED = (CROPS_DIR, MANIFEST_NAME, RECIPE_NAME, NO_FACE_NAME, RAW_NAME)
ADDED_ATTRIBUTES = ("source_path", "faces_in_photo", "embedding_norm", "detection")


@dataclass
class PhotoOptions:
    """How photos become embeddings (see `Preprocessing` for a user model's input recipe)."""

    model: str = "dlib"
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    device: str = "auto"
    batch: int = 32
    center: bool = False
    cnn_fallback: bool = True


@dataclass
class PhotoProjectSummary:
    folder: Path
    photos: int
    embedded: int
    no_face: list[str]
    resumed: int
    seconds: float
    model: dict


def _model_identity(model: str) -> dict:
    if model.lower() == "dlib":
        return {"model": "dlib"}
    p = Path(model).absolute()
    st = p.stat() if p.is_file() else None
    return {"model": str(p), "size": st.st_size if st else None,
            "mtime_ns": st.st_mtime_ns if st else None}


def _check_destination(folder: Path) -> None:
    if (folder / DB_NAME).exists():
        raise UserInputError("a project already exists here", file=folder,
                             fix="open it instead, or choose a new folder.")
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UserInputError("the folder exists and is not empty", file=folder,
                             fix="choose a new or empty folder for the project.")


def _finish_interrupted(folder: Path) -> bool:
    """A run killed between creating the project and moving the crops in: finish the move."""
    if not (folder / DB_NAME).exists() or (folder / CROPS_DIR).exists():
        return False
    for staging in folder.parent.glob(f".{folder.name}.photos-*"):
        if (staging / READY_NAME).exists():
            _move_into(staging, folder)
            return True
    return False


def _move_into(staging: Path, folder: Path) -> None:
    for name in MOVED:
        if (staging / name).exists():
            os.replace(staging / name, folder / name)
    shutil.rmtree(staging, ignore_errors=True)


def create_project_from_photos(folder: str | Path, *, images: str | Path | None = None,
                               manifest: str | Path | None = None,
                               options: PhotoOptions | None = None,
                               progress: ProgressCallback = no_progress,
                               cancel: CancelToken | None = None) -> PhotoProjectSummary:
    """Detect, align and embed every photo, then write a project of the aligned crops."""
    t0 = time.perf_counter()
    options = options or PhotoOptions()
    folder = Path(folder).absolute()
    if _finish_interrupted(folder):
        with Project.open(folder, read_only=True) as project:
            n = project.image_count()
        return PhotoProjectSummary(folder, n, n, [], n, time.perf_counter() - t0, {})
    _check_destination(folder)
    if (images is None) == (manifest is None):
        raise UserInputError("give exactly one of an image folder or a manifest",
                             fix="use --images DIR or --manifest CSV.")
    ds = read_image_folder(images) if images is not None else read_manifest(manifest)
    check_files_exist(ds)
    pre = options.preprocessing
    model = open_model(options.model, pre, options.device)
    align = pre.align and model.kind != "dlib"
    job = {"source": str(ds.source_path), **_model_identity(options.model),
           "recipe": pre.to_dict() if model.kind != "dlib" else "dlib-chip-150",
           "align": align, "cnn_fallback": options.cnn_fallback, "version": 1}
    staging = Staging(folder.parent / f".{folder.name}.photos-{job_key(job)}", job)
    run = embed_photos(ds, model, staging, align=align, batch=max(1, options.batch),
                       cnn_fallback=options.cnn_fallback, progress=progress, cancel=cancel)
    no_face = [ds.paths[i] for i in run.no_face]
    if not run.rows:
        staging.remove()
        shown = ", ".join(no_face[:3]) + (", …" if len(no_face) > 3 else "")
        raise UserInputError(f"no face was found in any of the {len(ds)} photo(s) ({shown})",
                             file=ds.source_path,
                             fix="check that the photos show faces large enough to see; "
                             "crops of faces need a little background around them.")
    recipe = _write_staged_project(staging.folder, ds, run, model, options, align)
    data = load_data(manifest=staging.folder / MANIFEST_NAME,
                     embeddings=staging.folder / "embeddings.npy", progress=progress,
                     cancel=cancel)
    data.dataset.root = folder
    data.dataset.source_path = folder / MANIFEST_NAME
    (staging.folder / READY_NAME).write_text("", encoding="utf-8")
    try:
        with Project.create(folder, data, progress=progress, cancel=cancel) as project:
            project.add_run("embed", recipe, {}, extra={
                "embedding_norm": run.norms, "faces_in_photo": run.faces.astype(float)},
                device=model.device, duration_s=time.perf_counter() - t0)
    except BaseException:
        (staging.folder / READY_NAME).unlink(missing_ok=True)
        raise
    _move_into(staging.folder, folder)
    return PhotoProjectSummary(folder, len(ds), len(run.rows), no_face, run.resumed,
                               time.perf_counter() - t0, run.model)


def _write_staged_project(staging: Path, ds: Dataset, run: EmbeddingRun, model, options,
                          align: bool) -> dict:
    """crops.csv, embeddings.npy (and the raw ones when centred), no_face.csv, embedding.json."""
    own = [a for a in ds.attributes if a not in ADDED_ATTRIBUTES]
    with open(staging / MANIFEST_NAME, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["path", "cluster", *own, *ADDED_ATTRIBUTES])
        for k, i in enumerate(run.rows):
            faces = "" if run.faces[k] < 0 else str(int(run.faces[k]))
            w.writerow([run.crops[k], ds.clusters[i], *(ds.attributes[a][i] for a in own),
                        str(ds.absolute_path(i)), faces, f"{float(run.norms[k]):.6g}",
                        run.methods[k]])
    with open(staging / NO_FACE_NAME, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["path", "cluster", "source_path"])
        for i in run.no_face:
            w.writerow([ds.paths[i], ds.clusters[i], str(ds.absolute_path(i))])
    emb = run.embeddings
    if options.center:
        np.save(staging / RAW_NAME, emb)
        emb, _ = center_embeddings(emb)
    np.save(staging / "embeddings.npy", emb)
    recipe = {"model": run.model, "align": "arcface-5-point" if align else (
        "dlib-chip-150" if model.kind == "dlib" else "pre-aligned (resized)"),
        "center": bool(options.center), "photos": len(ds), "embedded": len(run.rows),
        "no_face": len(run.no_face), "source": str(ds.source_path),
        "dimension": int(emb.shape[1]),
        "embedding_norm": "L2 norm of the model's raw output for the unflipped crop"}
    if model.kind != "dlib":
        recipe["preprocessing"] = options.preprocessing.to_dict()
    (staging / RECIPE_NAME).write_text(json.dumps(recipe, indent=1, sort_keys=True),
                                       encoding="utf-8")
    return recipe

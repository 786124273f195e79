"""Embed every photo of a `Dataset`: read, find and align the face, embed in batches, resumably.

Photos are decoded one ahead on a helper thread (Pillow releases the GIL while decoding) while
the main thread detects, aligns and embeds. Finished photos go to the staging folder in chunks
(see `staging`); a photo without a face is recorded as such, never fatal. A file that is not
an image stops the run with its name (the work before it is kept, so the next run resumes).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np

from fiqa_gui.core.atomic_output import safe_name
from fiqa_gui.core.ingest.dataset import Dataset
from fiqa_gui.core.ingest.embed.alignment import (
    DLIB_CHIP_PADDING,
    DLIB_CHIP_SIZE,
    arcface_crop,
    five_points_from_68,
)
from fiqa_gui.core.ingest.embed.detection import FaceFinder
from fiqa_gui.core.ingest.embed.extras import dlib_model_file
from fiqa_gui.core.ingest.embed.models import EmbeddingModel
from fiqa_gui.core.ingest.embed.photos import read_photo, resize_square, write_crop
from fiqa_gui.core.ingest.embed.staging import CROPS_DIR, PhotoResult, Staging
from fiqa_gui.core.progress import CancelToken, ProgressCallback, no_progress

STAGE = "embedding photos"
READ_AHEAD = 4


@dataclass
class EmbeddingRun:
    """The outcome, in dataset order: rows with a face and their crops, embeddings, norms."""

    rows: list[int]
    crops: list[str]            # relative to the staging folder
    embeddings: np.ndarray      # len(rows) × d, raw model output
    norms: np.ndarray
    faces: np.ndarray           # faces found per kept row (-1: pre-aligned, not searched)
    methods: list[str]
    no_face: list[int]          # dataset rows where no face was found
    resumed: int = 0            # photos reused from an earlier, interrupted run
    model: dict = field(default_factory=dict)


class Cropper:
    """Photo → the crop the model sees: dlib's chip, an ArcFace-aligned crop, or a resize."""

    def __init__(self, model: EmbeddingModel, align: bool, cnn_fallback: bool = True) -> None:
        self.size = model.input_size
        self.mode = "dlib" if model.kind == "dlib" else ("arcface" if align else "prealigned")
        if self.mode != "prealigned":
            self.finder = FaceFinder(cnn_fallback=cnn_fallback)
            dlib = self.finder.dlib
            self.dlib = dlib
            kind = "landmarks_5" if self.mode == "dlib" else "landmarks_68"
            self.landmarks = dlib.shape_predictor(str(dlib_model_file(kind)))

    def __call__(self, img: np.ndarray) -> tuple[np.ndarray | None, int, str]:
        """(crop or None, faces found, how it was found)."""
        if self.mode == "prealigned":
            return resize_square(img, self.size), -1, "prealigned"
        found = self.finder.find(img)
        if found is None:
            return None, 0, "none"
        shape = self.landmarks(found.image, found.rect)
        if self.mode == "dlib":
            crop = self.dlib.get_face_chip(found.image, shape, size=DLIB_CHIP_SIZE,
                                           padding=DLIB_CHIP_PADDING)
        else:
            crop = arcface_crop(found.image, five_points_from_68(shape), self.size)
        return np.ascontiguousarray(crop), found.faces_in_photo, found.method


def crop_name(path: str) -> str:
    """Where a photo's crop goes: `crops/` + its listed path with a `.png` name, made safe."""
    parts = [safe_name(p) for p in PurePosixPath(path.replace("\\", "/")).parts
             if p not in ("/", ".", "..") and not p.endswith(":")]
    stem = parts[-1].rsplit(".", 1)[0] if "." in parts[-1] else parts[-1]
    parts[-1] = safe_name(stem + ".png")
    return "/".join([CROPS_DIR, *parts])


def _read_ahead(ds: Dataset, rows: list[int]) -> Iterator[tuple[int, np.ndarray]]:
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="photo-reader") as pool:
        queue: deque = deque()
        it = iter(rows)
        for i in it:
            queue.append((i, pool.submit(read_photo, ds.absolute_path(i))))
            if len(queue) >= READ_AHEAD:
                break
        while queue:
            i, fut = queue.popleft()
            nxt = next(it, None)
            if nxt is not None:
                queue.append((nxt, pool.submit(read_photo, ds.absolute_path(nxt))))
            try:
                img = fut.result()
            except BaseException:
                for _, f in queue:
                    f.cancel()
                raise
            yield i, img


def embed_photos(ds: Dataset, model: EmbeddingModel, staging: Staging, *, align: bool = False,
                 batch: int = 32, chunk: int = 128, cnn_fallback: bool = True,
                 progress: ProgressCallback = no_progress,
                 cancel: CancelToken | None = None) -> EmbeddingRun:
    """Embed the photos not yet in `staging`, then return every photo's outcome."""
    cropper = Cropper(model, align, cnn_fallback)
    done = staging.load(model.dim)
    taken = {r.crop.casefold() for r in done.values() if r.crop}
    todo = [i for i in range(len(ds)) if ds.paths[i] not in done]
    resumed = len(ds) - len(todo)
    n = len(ds)
    progress(resumed, n, STAGE)
    pending: list[tuple[PhotoResult, np.ndarray]] = []
    results: list[PhotoResult] = []

    def run_model() -> None:
        if not pending:
            return
        emb, norms = model.embed(np.stack([c for _, c in pending]))
        for (r, _), e, nrm in zip(pending, emb, norms, strict=True):
            r.embedding, r.norm = e, float(nrm)
            results.append(r)
        pending.clear()

    def save_chunk() -> None:
        run_model()
        staging.write_chunk(results, model.dim)
        results.clear()

    finished = resumed
    try:
        for i, img in _read_ahead(ds, todo):
            if cancel is not None:
                cancel.check()
            crop, faces, method = cropper(img)
            path = ds.paths[i]
            if crop is None:
                results.append(PhotoResult(path, "", faces, False, None, float("nan"), method))
            else:
                rel = crop_name(path)
                k = 2
                while rel.casefold() in taken:
                    stem = crop_name(path)[:-4]
                    rel, k = f"{stem}~{k}.png", k + 1
                taken.add(rel.casefold())
                write_crop(staging.folder / rel, crop)
                pending.append((PhotoResult(path, rel, faces, True, None, 0.0, method), crop))
            if len(pending) >= batch:
                run_model()
            if len(results) + len(pending) >= chunk:
                save_chunk()
            finished += 1
            progress(finished, n, STAGE)
        save_chunk()
    except BaseException:
        try:
            run_model()
        except Exception:  # noqa: BLE001 - the model failed: keep what was embedded before
            pending.clear()
        staging.write_chunk(results, model.dim)
        raise
    return _assemble(ds, staging.load(model.dim), model, resumed)


def _assemble(ds: Dataset, done: dict[str, PhotoResult], model: EmbeddingModel,
              resumed: int) -> EmbeddingRun:
    rows, crops, embs, norms, faces, methods, no_face = [], [], [], [], [], [], []
    for i, path in enumerate(ds.paths):
        r = done[path]
        if not r.found:
            no_face.append(i)
            continue
        rows.append(i)
        crops.append(r.crop)
        embs.append(r.embedding)
        norms.append(r.norm)
        faces.append(r.faces)
        methods.append(r.method)
    emb = np.stack(embs).astype(np.float32) if embs else np.zeros((0, model.dim), np.float32)
    return EmbeddingRun(rows, crops, emb, np.asarray(norms, dtype=np.float32),
                        np.asarray(faces, dtype=np.int32), methods, no_face, resumed,
                        model.describe())

"""One entry point that loads and validates a curator's data: images, clusters, embeddings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.ingest.dataset import Dataset
from fiqa_gui.core.ingest.embeddings import load_embeddings, validate_embeddings
from fiqa_gui.core.ingest.image_check import check_files_exist, check_images_decode
from fiqa_gui.core.ingest.image_folder import read_image_folder
from fiqa_gui.core.ingest.manifest import read_manifest
from fiqa_gui.core.progress import CancelToken, ProgressCallback, no_progress


@dataclass
class LoadedData:
    dataset: Dataset
    embeddings: np.ndarray | None
    embeddings_path: Path | None


def load_data(*, images: str | Path | None = None, manifest: str | Path | None = None,
              embeddings: str | Path | None = None, check_images: bool = True,
              decode_images: bool = True, progress: ProgressCallback = no_progress,
              cancel: CancelToken | None = None) -> LoadedData:
    """Read an ImageFolder tree or a manifest, plus optional embeddings, and validate them all.

    Raises `UserInputError` for anything the user must fix; undecodable images and singleton
    clusters are not errors — they are kept, marked, and listed in `dataset.warnings`.
    """
    if (images is None) == (manifest is None):
        raise UserInputError("give exactly one of an image folder or a manifest",
                             fix="use --images DIR or --manifest CSV.")
    ds = read_image_folder(images) if images is not None else read_manifest(manifest)
    if check_images:
        check_files_exist(ds)
        if decode_images:
            check_images_decode(ds, progress=progress, cancel=cancel)
    singles = int(ds.singleton_mask.sum())
    if singles:
        ds.warnings.append(f"{singles} cluster(s) hold a single image; they are kept and marked "
                           "'singleton' (SDD is undefined for them)")
    if len(ds.cluster_names) < 2:
        ds.warnings.append("only one cluster: SDD and CR need other clusters as negatives")
    emb = None
    emb_path = None
    if embeddings is not None:
        emb_path = Path(embeddings).resolve()
        emb = load_embeddings(emb_path)
        validate_embeddings(emb, emb_path, len(ds), row_names=ds.paths)
    return LoadedData(dataset=ds, embeddings=emb, embeddings_path=emb_path)

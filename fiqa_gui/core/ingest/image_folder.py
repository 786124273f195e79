"""Read an ImageFolder tree `root/<cluster>/<image>` (the layout SDD-FIQA's pipeline walks).

Row order is sorted cluster name, then sorted file name, so an embeddings file computed over the
same walk lines up; the README documents this order.
"""

from __future__ import annotations

from pathlib import Path

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.ingest.dataset import Dataset

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"})


def read_image_folder(root: str | Path) -> Dataset:
    """List `root/<cluster>/<image>`; files at other depths are ignored and reported."""
    root = Path(root)
    if not root.is_dir():
        raise UserInputError("the image folder does not exist or is not a folder", file=root,
                             fix="pass a folder laid out as ROOT/<cluster>/<image>.")
    paths: list[str] = []
    clusters: list[str] = []
    ignored_top = 0
    ignored_deep = 0
    empty_clusters: list[str] = []  # cluster folders with no image file in them
    for sub in sorted(root.iterdir(), key=lambda p: p.name):
        if sub.name.startswith("."):
            continue
        if not sub.is_dir():
            ignored_top += sub.suffix.lower() in IMAGE_EXTENSIONS
            continue
        before = len(paths)
        for f in sorted(sub.iterdir(), key=lambda p: p.name):
            if f.name.startswith("."):
                continue
            if f.is_dir():
                ignored_deep += 1
                continue
            if f.suffix.lower() in IMAGE_EXTENSIONS:
                paths.append(f"{sub.name}/{f.name}")
                clusters.append(sub.name)
        if len(paths) == before:
            empty_clusters.append(sub.name)
    if not paths:
        hint = (" (images were found directly in the folder: put each cluster's images in a "
                "sub-folder named after the cluster)") if ignored_top else ""
        raise UserInputError(f"no images found in cluster sub-folders{hint}", file=root,
                             fix="lay the folder out as ROOT/<cluster>/<image>.jpg.")
    warnings = []
    if ignored_top:
        warnings.append(f"{root}: {ignored_top} image(s) directly in the root were ignored "
                        "(not in a cluster sub-folder)")
    if empty_clusters:
        shown = ", ".join(empty_clusters[:5]) + (", …" if len(empty_clusters) > 5 else "")
        warnings.append(f"{root}: {len(empty_clusters)} cluster folder(s) hold no image files "
                        f"({', '.join(sorted(IMAGE_EXTENSIONS))}) and were left out: {shown}")
    if ignored_deep:
        warnings.append(f"{root}: {ignored_deep} nested folder(s) below cluster folders were "
                        "ignored (only ROOT/<cluster>/<image> is read)")
    return Dataset(root=root.resolve(), paths=paths, clusters=clusters, source="imagefolder",
                   source_path=root.resolve(), warnings=warnings)

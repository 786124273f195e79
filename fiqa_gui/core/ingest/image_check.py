"""Check that every listed image exists (fatal when not) and decodes (reported, not fatal)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.ingest.dataset import Dataset
from fiqa_gui.core.progress import (
    DECODE_BUDGET,
    CancelToken,
    ProgressCallback,
    decoded_bytes,
    no_progress,
)

CHUNK = 256


def check_files_exist(ds: Dataset) -> None:
    """Raise naming the first missing image and its manifest row; count the others."""
    missing = [i for i, p in enumerate(ds.absolute_paths()) if not p.is_file()]
    if not missing:
        return
    first = missing[0]
    more = f" ({len(missing) - 1} more image(s) are missing too)" if len(missing) > 1 else ""
    raise UserInputError(
        f"image file not found: {ds.absolute_path(first)}{more}", **ds.locate(first),
        fix="correct the path (relative paths are read from the manifest's folder), "
        "or remove the row.")


def probe_image(path: Path) -> tuple[int, int] | None:
    """Decode an image cheaply (JPEG draft mode); return its original (width, height) or None."""
    try:
        with Image.open(path) as im:
            size = im.size
            if im.format == "JPEG":
                im.draft("RGB", (max(1, size[0] // 8), max(1, size[1] // 8)))
            with DECODE_BUDGET.reserve(decoded_bytes(*im.size)):  # bounded across threads
                im.load()
            return size
    except Exception:  # any decoder failure means "unreadable"; reported, never raised
        return None


def check_images_decode(ds: Dataset, *, workers: int | None = None,
                        progress: ProgressCallback = no_progress,
                        cancel: CancelToken | None = None) -> None:
    """Fill `ds.unreadable` and `ds.image_sizes`; add one warning line per unreadable image."""
    n = len(ds)
    sizes = np.zeros((n, 2), dtype=np.int32)
    unreadable = np.zeros(n, dtype=bool)
    paths = ds.absolute_paths()
    workers = workers or min(8, (os.cpu_count() or 2) * 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for start in range(0, n, CHUNK):
            if cancel is not None:
                cancel.check()
            chunk = paths[start:start + CHUNK]
            for j, size in enumerate(pool.map(probe_image, chunk)):
                if size is None:
                    unreadable[start + j] = True
                else:
                    sizes[start + j] = size
            progress(min(n, start + CHUNK), n, "checking images")
    ds.unreadable = unreadable
    ds.image_sizes = sizes
    for i in np.flatnonzero(unreadable)[:20]:
        loc = ds.locate(int(i))
        where = f"{loc['file']} line {loc['row']}: " if "row" in loc else ""
        ds.warnings.append(f"{where}cannot decode image {paths[i]}; it is kept and marked "
                           "unreadable (no image-quality cues for it)")
    if unreadable.sum() > 20:
        ds.warnings.append(f"… and {int(unreadable.sum()) - 20} more unreadable images")

"""Read one photo as an RGB uint8 array, upright (EXIF orientation applied)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fiqa_gui.core.errors import UserInputError


def read_photo(path: Path) -> np.ndarray:
    """H×W×3 uint8 RGB; a file Pillow cannot decode is the user's to fix (named, with why)."""
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as err:
        reason = "not an image Pillow can read" if isinstance(err, UnidentifiedImageError) \
            else f"cannot be decoded ({err})"
        raise UserInputError(
            f"the photo is {reason}", file=path,
            fix="remove or replace the file and run the same command again: the photos "
            "already embedded are kept and the run continues from there.") from None


def write_crop(path: Path, crop: np.ndarray) -> None:
    """Save an aligned crop losslessly (PNG), so the project shows exactly what was embedded."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    Image.fromarray(crop).save(tmp, format="PNG")
    tmp.replace(path)


def resize_square(img: np.ndarray, size: int) -> np.ndarray:
    """A pre-aligned crop scaled to the model's input size (bilinear, Pillow)."""
    if img.shape[0] == size and img.shape[1] == size:
        return img
    return np.asarray(Image.fromarray(img).resize((size, size), Image.Resampling.BILINEAR))

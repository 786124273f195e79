"""Which images may stand for their cluster: never an identity suspect, never a near-blank image.

Proposed anchors (`anchored.propose_anchors`) and proposed seeds (`seedsets.sampling`) both pick
images to represent a cluster. A curator found both picking images that are possibly another
person, and images with next to nothing on them (a grey frame, a lens cap, a fully clipped
exposure) — those carry no identity, whatever rank a score gives them. `near_blank` is decided
from pixels: the face region's luminance standard deviation below `BLANK_LUMINANCE_STD` (0.02 of
full scale: a flat frame; faces, even dark or blurred ones, show several times that), or, where
only the combined score exists, `iq` below `BLANK_IQ` (25/100: a flat frame scores 9–21).
"""

from __future__ import annotations

import numpy as np

BLANK_LUMINANCE_STD = 0.02
BLANK_IQ = 25.0


def near_blank(n: int, iq: np.ndarray | None = None,
               luminance_variance: np.ndarray | None = None) -> np.ndarray:
    """Mask of near-blank images (False where the pixels were not measured)."""
    out = np.zeros(n, dtype=bool)
    with np.errstate(invalid="ignore"):
        if luminance_variance is not None:
            v = np.asarray(luminance_variance, dtype=float)
            out |= np.isfinite(v) & (np.sqrt(np.maximum(v, 0.0)) < BLANK_LUMINANCE_STD)
        if iq is not None:
            q = np.asarray(iq, dtype=float)
            out |= np.isfinite(q) & (q < BLANK_IQ)
    return out


def ineligible(flags: list[list[str]], blank: np.ndarray | None = None) -> np.ndarray:
    """Mask of images that must not represent their cluster: identity suspects or near-blank."""
    has = getattr(flags, "has", None)  # `FlagLists`: one mask, no pass over rows
    out = has("identity_suspect") if has is not None else np.array(
        ["identity_suspect" in f for f in flags], dtype=bool)
    if blank is not None:
        out |= np.asarray(blank, dtype=bool)
    return out

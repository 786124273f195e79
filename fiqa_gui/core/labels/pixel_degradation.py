"""How degraded an image's pixels are, measured per degradation on the cue it moves, in units of
what the calibration's degradations did to this project's own best images.

The combined pixel score `iq` mixes every cue into one 0–100 number, so a clean photo that is
merely dark or low in contrast scores as low as a mildly JPEG-compressed one, and where "poor"
begins on it has to be fixed by reference images whose make-up moves with the data set. Each
degradation real data is full of, however, moves one cue far more than lighting ever does:

- blur and down-scaling lower `sharpness` (Laplacian variance, noise part removed) by orders
  of magnitude — on the sweep's data from ~900 to 2–70, where a dark clean photo stays above
  ~300;
- noise raises `noise` (Immerkær's σ̂) from ~2 to 10–25 grey levels;
- JPEG compression raises `blockiness` (8×8 border step ÷ in-block step) from ~1 to 2–3.

`self_calibration` degrades the project's best images with each of these at a strength a
curator calls poor and records the cues' medians before and after (`IqCalibration.cue_best`,
`.cue_degraded`). Each cue is then put on a log scale with 0 = the best images' own value and
1 = the value of their degraded copies:

    sharpness:  d = log(best / v) / log(best / degraded)   (degraded: the milder of blur and
                                                             down-scaling, the larger sharpness)
    noise, blockiness:  d = log(v / best) / log(degraded / best)

Over-exposure needs no calibration: a clipped pixel (linear luminance ≥ 247) holds nothing of
the face on any camera, so its share of the face region is absolute — `OVER_EXPOSED_FULL`
(a quarter of the region clipped) counts as 1. Clean photos clip well under 1 % (the demo's
clean identities at most 0.4 %, its over-exposed clusters 44–69 %). Under-exposure is not
scaled that way: dim light and dark skin put most of a clean face below the under-exposure
level, so a darkened photo is left to the `iq`-based pixel poorness (`diagnostics`), as are
occluders, which no pixel cue sees.

An image's *pixel degradation* is the largest of these (the degradation it shows most). It
depends on the best images, the calibration strengths and the fixed clipping scale only — not
on how many images of the data set are degraded — so a threshold on it means the same at 10 %
and at 75 % poor data. A cue is left out (NaN) where the calibration did not move it (a project
whose best images are themselves blurred) or the image has no value (blockiness of an image
decoded at a reduced scale).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

# cue → (the calibration degradations that move it, +1 when larger values are worse)
CUE_KINDS: dict[str, tuple[tuple[str, ...], int]] = {
    "sharpness": (("blur", "downscale"), -1),
    "noise": (("noise",), +1),
    "blockiness": (("jpeg",), +1),
}
# how the window names each cue, and (calibrated cues) the copies its 1 stands for
CUE_WORDS = {"sharpness": "sharpness", "noise": "noise", "blockiness": "JPEG blocking",
             "over_exposure": "over-exposure (clipped highlights)"}
CUE_COPIES = {"sharpness": "blurred and down-scaled copies", "noise": "noised copies",
              "blockiness": "JPEG-compressed copies"}
OVER_EXPOSED_FULL = 0.25  # share of the face region clipped that counts as fully degraded
MIN_LOG_SPAN = 0.1   # a calibration that moved a cue by less than ~10 % cannot scale it
CLIP = (-3.0, 5.0)   # far beyond both ends the value says nothing more


@dataclass(frozen=True)
class PixelDegradation:
    """Per-image degradation on the calibrated scale, and which cue gave it."""

    value: np.ndarray       # max over the cues below, NaN where no cue is available
    by_cue: dict[str, np.ndarray]
    cue: np.ndarray         # index into `cues` of the cue that gave `value`, −1 where NaN
    cues: tuple[str, ...]

    def cue_name(self, code: int) -> str | None:
        return self.cues[code] if 0 <= code < len(self.cues) else None


def cue_levels(calibration) -> dict[str, tuple[float, float]]:
    """(best, degraded) level per cue from an `IqCalibration` or its `as_dict()`; cues the
    calibration did not record or did not move are left out."""
    if calibration is None:
        return {}
    get = calibration.get if isinstance(calibration, Mapping) else \
        (lambda k, default=None: getattr(calibration, k, default))
    best, degraded = get("cue_best") or {}, get("cue_degraded") or {}
    levels = {}
    for cue, (kinds, worse) in CUE_KINDS.items():
        b = best.get(cue)
        after = [degraded.get(k, {}).get(cue) for k in kinds]
        after = [float(a) for a in after if a is not None and np.isfinite(a) and a > 0]
        if b is None or not np.isfinite(b) or b <= 0 or not after:
            continue
        d = max(after) if worse < 0 else min(after)  # the milder degradation sets 1
        if worse * np.log(d / b) >= MIN_LOG_SPAN:
            levels[cue] = (float(b), float(d))
    return levels


def pixel_degradation(cues: Mapping[str, np.ndarray] | None, calibration,
                      n: int) -> PixelDegradation:
    """`PixelDegradation` of `n` images from their raw cues (`image_quality.CUES` columns) and
    the project's calibration; all NaN without cues or without calibrated levels."""
    levels = cue_levels(calibration)
    names = tuple(c for c in CUE_KINDS if c in levels and cues is not None and c in cues)
    if cues is not None and "over_exposure" in cues:
        names += ("over_exposure",)
    by_cue: dict[str, np.ndarray] = {}
    for cue in names:
        if cue == "over_exposure":
            v = np.asarray(cues[cue], dtype=float)
            by_cue[cue] = np.clip(v / OVER_EXPOSED_FULL, *CLIP)
            continue
        best, degraded = levels[cue]
        worse = CUE_KINDS[cue][1]
        v = np.asarray(cues[cue], dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            # non-positive sharpness (all noise) is as blurred as the clip allows
            logv = np.log(np.where(v > 0, v, best * np.exp(-20.0)))
            d = worse * (logv - np.log(best)) / (worse * (np.log(degraded) - np.log(best)))
        by_cue[cue] = np.clip(np.where(np.isfinite(v), d, np.nan), *CLIP)
    if not names:
        return PixelDegradation(np.full(n, np.nan), {}, np.full(n, -1, np.int8), ())
    stacked = np.vstack([by_cue[c] for c in names])
    finite = np.isfinite(stacked)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows without any cue stay NaN
        value = np.nanmax(stacked, axis=0)
    which = np.argmax(np.where(finite, stacked, -np.inf), axis=0).astype(np.int8)
    which[~finite.any(axis=0)] = -1
    return PixelDegradation(value, by_cue, which, names)

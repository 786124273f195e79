"""Self-calibration of the pixel scale: how low does `iq` fall when this project's own best images
are degraded?

The pixel score `iq` is on an absolute 0–100 scale, but where "poor" begins on it depends on the
camera, the crop size and the lighting of a data set. Instead of a quantile of the data set (which
moves with the share of poor images), the project degrades its *own best images* — the top
`n_best` by `iq` — with the four degradations real data is full of, each at a strength a curator
would call poor, and measures them with the same cues:

- blur: Gaussian, radius `BLUR_RADIUS` (2 px on a 112 px crop);
- down-scaling: to a third of the side (box filter), then back up (bicubic);
- noise: additive Gaussian, σ = `NOISE_SIGMA` (15 grey levels, seeded);
- JPEG: re-encoded at quality `JPEG_QUALITY` (15).

`iq_poor`, the median `iq` of those degraded copies, is the level below which an image looks as
bad as a degraded copy of the project's best. It depends on the best images only, so it is the
same whether one cluster in ten or three in four are poor. These degraders belong to the labels
stage (the demo has its own, for making data; the two must not share code paths).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageFilter

from fiqa_gui.core.scoring.image_quality import combine, cue_scores, image_cues

N_BEST = 16
BLUR_RADIUS = 2.0
DOWNSCALE = 3
NOISE_SIGMA = 15.0
JPEG_QUALITY = 15
KINDS = ("blur", "downscale", "noise", "jpeg")


def self_degrade(img: Image.Image, kind: str, rng: np.random.Generator) -> Image.Image:
    """One calibration degradation of an RGB image (same size out)."""
    img = img.convert("RGB")
    if kind == "blur":
        return img.filter(ImageFilter.GaussianBlur(BLUR_RADIUS))
    if kind == "downscale":
        w, h = img.size
        small = img.resize((max(1, w // DOWNSCALE), max(1, h // DOWNSCALE)), Image.BOX)
        return small.resize((w, h), Image.BICUBIC)
    if kind == "noise":
        arr = np.asarray(img, dtype=np.float32)
        arr = arr + rng.normal(0.0, NOISE_SIGMA, arr.shape).astype(np.float32)
        return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "RGB")
    if kind == "jpeg":
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=JPEG_QUALITY)
        buf.seek(0)
        return Image.open(buf).convert("RGB")
    raise ValueError(f"unknown calibration degradation {kind!r}; known: {KINDS}")


def image_iq(img: Image.Image) -> float:
    """`iq` of an in-memory image, exactly as the scoring pipeline computes it from a file."""
    return measure(img)[0]


def measure(img: Image.Image) -> tuple[float, dict[str, float]]:
    """(`iq`, raw cues) of an in-memory image, as the scoring pipeline computes them."""
    cues = image_cues(img, original_size=img.size)
    scores = cue_scores({k: np.array([v]) for k, v in cues.items()})
    return float(combine(scores)[0]), {k: float(v) for k, v in cues.items()}


@dataclass
class IqCalibration:
    """The calibrated pixel level and what it was measured on."""

    iq_poor: float                 # median iq of the degraded copies of the best images
    best_iq: float                 # median iq of those best images themselves
    by_kind: dict[str, float] = field(default_factory=dict)  # median degraded iq per kind
    images: list[int] = field(default_factory=list)          # ids of the best images used
    # the cues `pixel_degradation` scales by: medians on the best images, and per kind on
    # their degraded copies
    cue_best: dict[str, float] = field(default_factory=dict)
    cue_degraded: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def iq_good(self) -> float:
        """Halfway from `iq_poor` up to the best images' own level: an image at least this good
        on pixels is clearly not a degraded copy (the good references of `quality_scale`)."""
        return 0.5 * (self.iq_poor + self.best_iq)

    def as_dict(self) -> dict:
        return {"iq_poor": round(self.iq_poor, 2), "iq_good": round(self.iq_good, 2),
                "best_iq": round(self.best_iq, 2),
                "by_kind": {k: round(v, 2) for k, v in self.by_kind.items()},
                "images": self.images,
                "cue_best": {k: _round(v) for k, v in self.cue_best.items()},
                "cue_degraded": {kind: {k: _round(v) for k, v in cues.items()}
                                 for kind, cues in self.cue_degraded.items()}}


def _round(v: float) -> float | None:
    """Four significant digits, None for NaN (JSON has no NaN)."""
    return float(f"{v:.4g}") if np.isfinite(v) else None


def calibrate_iq(paths: list[str], iq: np.ndarray, *, n_best: int = N_BEST,
                 seed: int = 0) -> IqCalibration | None:
    """Degrade the `n_best` images with the highest `iq` and measure them; None when fewer than
    four readable best images exist (then there is no pixel scale to calibrate)."""
    iq = np.asarray(iq, dtype=float)
    ok = np.flatnonzero(np.isfinite(iq))
    if len(ok) < 4:
        return None
    best = ok[np.argsort(-iq[ok], kind="stable")][:n_best]
    rng = np.random.default_rng([seed, 0x63616C])  # "cal"
    per_kind: dict[str, list[float]] = {k: [] for k in KINDS}
    cues_best: list[dict[str, float]] = []
    cues_after: dict[str, list[dict[str, float]]] = {k: [] for k in KINDS}
    used: list[int] = []
    for i in best:
        try:
            with Image.open(paths[int(i)]) as im:
                im.load()
                img = im.convert("RGB")
        except Exception:  # noqa: BLE001 — an unreadable best image is just skipped
            continue
        used.append(int(i))
        cues_best.append(measure(img)[1])
        for kind in KINDS:
            value, cues = measure(self_degrade(img, kind, rng))
            per_kind[kind].append(value)
            cues_after[kind].append(cues)
    if len(used) < 4:
        return None
    pooled = [v for vals in per_kind.values() for v in vals]
    return IqCalibration(iq_poor=float(np.median(pooled)), best_iq=float(np.median(iq[used])),
                         by_kind={k: float(np.median(v)) for k, v in per_kind.items()},
                         images=used, cue_best=_medians(cues_best),
                         cue_degraded={k: _medians(v) for k, v in cues_after.items()})


def _medians(rows: list[dict[str, float]]) -> dict[str, float]:
    """Per cue, the median over `rows` of its finite values (NaN where there are none)."""
    out = {}
    for cue in rows[0] if rows else ():
        vals = np.array([r[cue] for r in rows], dtype=float)
        vals = vals[np.isfinite(vals)]
        out[cue] = float(np.median(vals)) if len(vals) else float("nan")
    return out

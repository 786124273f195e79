"""Model-free image quality cues (SPEC §3), OFIQ-style, from pixels alone.

Every image is decoded at (about) the size the cues need: JPEGs through Pillow's draft mode,
which decodes at a reduced DCT scale; other formats above `REDUCE_ABOVE_PIXELS` are box-reduced
right after decoding, before any conversion, and every decode holds a share of
`progress.DECODE_BUDGET` so a few huge images never run side by side (one 9,400² PNG costs its
decoded size once, not gigabytes). The image is then centre-cropped to a square, resized to
`ANALYSIS_SIZE`² and measured inside a fixed central ellipse (the face region of an aligned
crop):

- linear luminance `L = floor(255·(0.2126 R + 0.7152 G + 0.0722 B) + 0.5)` of linearised sRGB and
  its 256-bin normalised histogram `p` over the mask;
- `luminance_mean` μ = Σ p_i·i/255 and `luminance_variance` Σ p_i·(i/255 - μ)²;
- `under_exposure` = fraction of masked pixels with L ≤ 25, `over_exposure` = L ≥ 247;
- `dynamic_range` = 12.5·H, H the Shannon entropy of p in bits (8 bits → 100);
- `sharpness` = variance of the 4-neighbour Laplacian of the grey image (0..255) over the mask at
  the analysis size, minus the part white noise contributes (20·σ̂², see `artifacts`). This is a
  **proxy**: OFIQ uses a trained random forest; a raw Laplacian variance falls with blur but
  rises with noise, which is why the noise part is removed;
- `noise` = σ̂ of additive noise (Immerkær's estimator, grey levels) over the mask;
- `blockiness` = JPEG 8×8 block-border step ÷ in-block step on the stored pixel grid (1 = none;
  NaN when the image was decoded at a reduced scale, then it does not count);
- `resolution` = short side in pixels of the *original* image.

`cue_scores` maps each cue to [0, 100] by a monotone function (documented there) and `combine`
merges them into `iq` with a weighted geometric mean, so one bad cue (dark, blurred, tiny) pulls
the score down more than an arithmetic mean would.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from functools import lru_cache

import numpy as np
from PIL import Image

from fiqa_gui.core.errors import Cancelled
from fiqa_gui.core.progress import (
    DECODE_BUDGET,
    CancelToken,
    ProgressCallback,
    decoded_bytes,
    no_progress,
)
from fiqa_gui.core.scoring.artifacts import LAPLACIAN_NOISE_GAIN, blockiness, noise_sigma

ANALYSIS_SIZE = 112
# fixed elliptical face mask, in fractions of the (square) crop: centre and semi-axes
MASK_CENTRE = (0.5, 0.52)  # (x, y): aligned crops put the face slightly below the middle
MASK_AXES = (0.36, 0.44)  # horizontal, vertical
UNDER_L, OVER_L = 25, 247
REDUCE_ABOVE_PIXELS = 4_000_000  # larger images are reduced to a short side ≥ REDUCED_SIDE
REDUCED_SIDE = 4 * ANALYSIS_SIZE

CUES = ("luminance_mean", "luminance_variance", "under_exposure", "over_exposure",
        "dynamic_range", "sharpness", "noise", "blockiness", "resolution")
# weights of the mapped cues in the geometric mean that gives `iq` (they sum to 1)
WEIGHTS = {"sharpness": 0.20, "noise": 0.20, "blockiness": 0.10, "under_exposure": 0.10,
           "over_exposure": 0.10, "luminance_mean": 0.08, "luminance_variance": 0.07,
           "dynamic_range": 0.07, "resolution": 0.08}

# sRGB 8-bit value → linear light (IEC 61966-2-1)
_C = np.arange(256, dtype=np.float64) / 255.0
_SRGB_TO_LINEAR = np.where(_C <= 0.04045, _C / 12.92, ((_C + 0.055) / 1.055) ** 2.4)


@lru_cache(maxsize=8)
def face_mask(height: int, width: int) -> np.ndarray:
    """The fixed central elliptical mask (bool, height×width)."""
    y = (np.arange(height) + 0.5) / height
    x = (np.arange(width) + 0.5) / width
    (cx, cy), (ax, ay) = MASK_CENTRE, MASK_AXES
    m = ((x[None, :] - cx) / ax) ** 2 + ((y[:, None] - cy) / ay) ** 2 <= 1.0
    m.setflags(write=False)
    return m


def linear_luminance(rgb: np.ndarray) -> np.ndarray:
    """Integer linear luminance L in 0..255 of an H×W×3 uint8 sRGB image."""
    lin = _SRGB_TO_LINEAR[rgb]
    y = 0.2126 * lin[..., 0] + 0.7152 * lin[..., 1] + 0.0722 * lin[..., 2]
    return np.floor(255.0 * y + 0.5).astype(np.uint8)


def luminance_cues(lum: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Histogram statistics of L over the mask: mean, variance, under/over exposure, range."""
    p = np.bincount(lum[mask].ravel(), minlength=256).astype(np.float64)
    p /= max(p.sum(), 1.0)
    i = np.arange(256) / 255.0
    mean = float(p @ i)
    nz = p[p > 0]
    return {
        "luminance_mean": mean,
        "luminance_variance": float(p @ (i - mean) ** 2),
        "under_exposure": float(p[:UNDER_L + 1].sum()),
        "over_exposure": float(p[OVER_L:].sum()),
        "dynamic_range": float(12.5 * -(nz * np.log2(nz)).sum()),
    }


def sharpness(grey: np.ndarray, mask: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of a grey image (0..255) over the mask (a proxy)."""
    g = grey.astype(np.float64)
    lap = np.zeros_like(g)
    lap[1:-1, 1:-1] = (g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
                       - 4.0 * g[1:-1, 1:-1])
    inner = mask.copy()
    inner[[0, -1], :] = False
    inner[:, [0, -1]] = False
    return float(lap[inner].var())


def prepare(img: Image.Image, size: int = ANALYSIS_SIZE) -> np.ndarray:
    """RGB uint8 array of the centre square crop resized to size×size."""
    img = img.convert("RGB")
    w, h = img.size
    s = min(w, h)
    if w != h:
        left, top = (w - s) // 2, (h - s) // 2
        img = img.crop((left, top, left + s, top + s))
    if s != size:
        img = img.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(img, dtype=np.uint8)


def image_cues(image: Image.Image | np.ndarray, original_size: tuple[int, int] | None = None
               ) -> dict[str, float]:
    """All raw cues of one image (PIL image or H×W×3 uint8 array)."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(np.asarray(image, dtype=np.uint8))
    w, h = original_size or image.size
    # JPEG blocks sit on the stored pixel grid: measure them before any crop or resize, and
    # only when the decoder kept the stored resolution (draft mode would have rescaled it)
    block = (blockiness(np.asarray(image.convert("L"), dtype=np.float64))
             if image.size == (w, h) else float("nan"))
    rgb = prepare(image)
    mask = face_mask(*rgb.shape[:2])
    cues = luminance_cues(linear_luminance(rgb), mask)
    grey = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    sigma = noise_sigma(grey, mask)
    cues["noise"] = sigma
    cues["sharpness"] = max(0.0, sharpness(grey, mask) - LAPLACIAN_NOISE_GAIN * sigma ** 2)
    cues["blockiness"] = block
    cues["resolution"] = float(min(w, h))
    return cues


def cue_scores(cues: dict[str, np.ndarray | float]) -> dict[str, np.ndarray]:
    """Each cue mapped to [0, 100] (higher is better) by a monotone function:

    - luminance_mean μ: 100 inside [0.12, 0.55] (well-exposed faces in linear light), falling
      linearly to 0 at μ = 0 and μ = 1 (monotone in the distance from that band);
    - luminance_variance: 100·min(1, σ/0.12), σ its square root (flat images score low);
    - under/over_exposure fraction f: 100·max(0, 1 - 2f) (half the face clipped → 0);
    - dynamic_range: already 0..100;
    - sharpness s (noise part removed): 100·(1 - exp(-s/200));
    - noise σ̂ (grey levels): 100·exp(-max(0, σ̂ - 2)/8) (σ̂ ≤ 2 is what clean crops show; 10 → 37);
    - blockiness b: 100·clip(1 - (b - 1.2), 0, 1) (no blocks ≈ 1 → 100, b ≥ 2.2 → 0); NaN (not
      measurable after a reduced-scale decode) counts as 100, no evidence of blocking;
    - resolution r: 100·clip(log2(r/24) / log2(112/24), 0, 1) (24 px → 0, ≥ 112 px → 100).
    NaN stays NaN.
    """
    def arr(k: str) -> np.ndarray:
        return np.asarray(cues[k], dtype=np.float64)

    mu = arr("luminance_mean")
    lo, hi = 0.12, 0.55
    q_mu = np.where(mu < lo, mu / lo, np.where(mu > hi, (1.0 - mu) / (1.0 - hi), 1.0))
    with np.errstate(invalid="ignore"):
        out = {
            "luminance_mean": 100 * np.clip(q_mu, 0, 1),
            "luminance_variance": 100 * np.minimum(1.0, np.sqrt(arr("luminance_variance"))
                                                   / 0.12),
            "under_exposure": 100 * np.clip(1 - 2 * arr("under_exposure"), 0, 1),
            "over_exposure": 100 * np.clip(1 - 2 * arr("over_exposure"), 0, 1),
            "dynamic_range": np.clip(arr("dynamic_range"), 0, 100),
            "sharpness": 100 * (1 - np.exp(-arr("sharpness") / 200.0)),
            "noise": 100 * np.exp(-np.maximum(0.0, arr("noise") - 2.0) / 8.0),
            "blockiness": np.where(np.isnan(arr("blockiness")), 100.0,
                                   100 * np.clip(1 - (arr("blockiness") - 1.2), 0, 1)),
            "resolution": 100 * np.clip(np.log2(np.maximum(arr("resolution"), 1e-9) / 24)
                                        / math.log2(112 / 24), 0, 1),
        }
    return out


def combine(scores: dict[str, np.ndarray]) -> np.ndarray:
    """`iq` = 100·Π (q_k/100)^w_k with the WEIGHTS (each q floored at 1 so one zero cue does
    not erase the others' information entirely); NaN if any cue is NaN."""
    log = sum(w * np.log(np.maximum(np.asarray(scores[k], dtype=np.float64), 1.0) / 100.0)
              for k, w in WEIGHTS.items())
    return 100.0 * np.exp(log)


def read_cues(path: str) -> dict[str, float] | None:
    """Decode one file and measure it; None when it cannot be opened or decoded."""
    try:
        with Image.open(path) as img:
            original = img.size
            if img.format == "JPEG":
                # decode at a reduced DCT scale, never below the analysis size
                img.draft("RGB", (ANALYSIS_SIZE, ANALYSIS_SIZE))
            with DECODE_BUDGET.reserve(decoded_bytes(*img.size)):
                img.load()
                small = reduce_large(img)
            return image_cues(small, original_size=original)
    except Exception:  # noqa: BLE001 — any bad file is reported as unreadable, never raised
        return None


def reduce_large(img: Image.Image) -> Image.Image:
    """`img` box-reduced by an integer factor to a short side ≥ `REDUCED_SIDE` when it has more
    than `REDUCE_ABOVE_PIXELS` pixels (the cues are measured at `ANALYSIS_SIZE` anyway)."""
    w, h = img.size
    factor = min(w, h) // REDUCED_SIDE
    if w * h <= REDUCE_ABOVE_PIXELS or factor < 2:
        return img
    try:
        return img.reduce(factor)
    except (ValueError, NotImplementedError):  # a mode reduce() does not handle (e.g. "P")
        return img.convert("RGB").reduce(factor)


def compute_image_cues(paths: list[str], *, workers: int | None = None,
                       progress: ProgressCallback | None = None,
                       cancel: CancelToken | None = None) -> dict[str, np.ndarray]:
    """Raw cues, `iq` and a boolean `unreadable` for every path (NaN where unreadable).

    Decoding runs in a thread pool (Pillow and numpy release the GIL); results keep the order
    of `paths`. Raises `Cancelled` when the token is set.
    """
    progress = progress or no_progress
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise ValueError(f"workers must be at least 1 (got {workers!r})")
    n = len(paths)
    out = {k: np.full(n, np.nan, dtype=np.float32) for k in CUES}
    unreadable = np.zeros(n, dtype=bool)
    workers = workers or min(8, os.cpu_count() or 1)
    progress(0, n, "image quality")
    done = 0
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending: dict[Future, int] = {}
        it = iter(range(n))
        try:
            while True:
                while len(pending) < 4 * workers:
                    i = next(it, None)
                    if i is None:
                        break
                    pending[pool.submit(read_cues, str(paths[i]))] = i
                if not pending:
                    break
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    i = pending.pop(fut)
                    res = fut.result()
                    if res is None:
                        unreadable[i] = True
                    else:
                        for k in CUES:
                            out[k][i] = res[k]
                    done += 1
                if cancel is not None and cancel.cancelled:
                    raise Cancelled()
                progress(done, n, "image quality")
        finally:
            for fut in pending:
                fut.cancel()
    out["iq"] = combine(cue_scores(out)).astype(np.float32)
    out["unreadable"] = unreadable
    return out

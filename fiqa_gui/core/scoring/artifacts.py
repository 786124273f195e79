"""Pixel artefacts the sharpness proxy mistakes for detail: sensor noise and JPEG blocking.

- Noise: Immerkær's estimator (1996). The 3×3 operator
  [[1,−2,1],[−2,4,−2],[1,−2,1]] is the difference of two Laplacians, so it cancels smooth
  shading and most edges while white noise of deviation σ passes with gain 6 (its coefficients'
  squares sum to 36); for Gaussian noise E|response| = 6σ·sqrt(2/π), hence
  σ̂ = sqrt(π/2)·mean|response| / 6.
- JPEG blocking: the mean absolute step across the 8×8 block borders of the *stored* pixel grid
  over the mean step inside blocks (1 for an image without blocks, > 1 with them). Measured only
  when the decoded image still has its stored resolution, since any resize blurs the grid away.

Both are used to correct the sharpness proxy (noise adds 20σ² to the variance of the 4-neighbour
Laplacian, whose squared coefficients sum to 20) and as cues of their own.
"""

from __future__ import annotations

import math

import numpy as np

_IMMERKAER_GAIN = 6.0 * math.sqrt(2.0 / math.pi)
LAPLACIAN_NOISE_GAIN = 20.0  # var(4-neighbour Laplacian of white noise) / σ²


def noise_sigma(grey: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Estimated standard deviation of additive white noise of a grey image (its own units)."""
    g = np.asarray(grey, dtype=np.float64)
    if g.shape[0] < 3 or g.shape[1] < 3:
        return float("nan")
    r = (g[:-2, :-2] - 2 * g[:-2, 1:-1] + g[:-2, 2:]
         - 2 * g[1:-1, :-2] + 4 * g[1:-1, 1:-1] - 2 * g[1:-1, 2:]
         + g[2:, :-2] - 2 * g[2:, 1:-1] + g[2:, 2:])
    a = np.abs(r)
    if mask is not None:
        a = a[np.asarray(mask)[1:-1, 1:-1]]
    return float(a.mean() / _IMMERKAER_GAIN) if a.size else float("nan")


def blockiness(grey: np.ndarray, block: int = 8) -> float:
    """Mean |step| across block borders ÷ mean |step| inside blocks, both directions (≥ ~1)."""
    g = np.asarray(grey, dtype=np.float64)
    if min(g.shape) < 2 * block + 1:
        return float("nan")
    ratios = []
    for d in (np.abs(np.diff(g, axis=1)), np.abs(np.diff(g, axis=0)).T):
        cols = np.arange(d.shape[1])
        border = (cols % block) == block - 1   # step between pixel 8k+7 and 8k+8
        inside = d[:, ~border].mean()
        ratios.append(d[:, border].mean() / max(inside, 1e-6))
    return float(np.mean(ratios))

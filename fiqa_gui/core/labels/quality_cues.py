"""Model-free quality cues from the embedding side, and their combination with pixel cues.

Poor images of *all* identities drift toward a common region of the embedding space near the
dataset's mean direction, where identity information is weakest (SPEC.md §5; a relative of the
feature-norm measures MagFace and AdaFace, usable on L2-normalised embeddings). So

    lowinfo_i = cos(x_i, m̂),   m̂ = normalise(mean_j x̂_j)

is a quality cue that needs no pixels: the larger, the less identity the image carries. Pixel cues
(`iq`) catch blur and exposure but are fooled by noise, JPEG blocks and occluders; the two fail on
different images, so `model_free_quality` averages their percentile ranks.
"""

from __future__ import annotations

import numpy as np

from fiqa_gui.core.labels.ranking import average_ranks

CHUNK = 65536


def normalised_mean_direction(embeddings: np.ndarray) -> np.ndarray:
    """m̂: the unit mean of the L2-normalised rows, accumulated in chunks (memmap friendly)."""
    total = np.zeros(embeddings.shape[1], dtype=np.float64)
    for start in range(0, embeddings.shape[0], CHUNK):
        block = np.asarray(embeddings[start:start + CHUNK], dtype=np.float32)
        block = block / np.linalg.norm(block, axis=1, keepdims=True)
        total += block.sum(axis=0, dtype=np.float64)
    norm = np.linalg.norm(total)
    return (total / norm).astype(np.float32) if norm > 0 else total.astype(np.float32)


def low_information_similarity(embeddings: np.ndarray,
                               direction: np.ndarray | None = None) -> np.ndarray:
    """cos(x_i, m̂) per image: high = close to where degraded images of every identity gather."""
    m = normalised_mean_direction(embeddings) if direction is None else direction
    out = np.empty(embeddings.shape[0], dtype=np.float64)
    for start in range(0, embeddings.shape[0], CHUNK):
        block = np.asarray(embeddings[start:start + CHUNK], dtype=np.float32)
        out[start:start + len(block)] = (block @ m) / np.linalg.norm(block, axis=1)
    return out


def percentile_rank(values: np.ndarray) -> np.ndarray:
    """Rank in (0, 1] among the finite values (ties averaged); NaN stays NaN."""
    values = np.asarray(values, dtype=float)
    out = np.full(values.shape, np.nan)
    ok = np.isfinite(values)
    if ok.any():
        out[ok] = average_ranks(values[ok]) / ok.sum()
    return out


def model_free_quality(lowinfo: np.ndarray, iq: np.ndarray | None = None) -> np.ndarray:
    """Mean of the percentile ranks of −lowinfo and iq (whichever exist), in (0, 1].

    Percentile ranks put the two cues on one scale without assuming how either is distributed.
    """
    parts = [percentile_rank(-np.asarray(lowinfo, dtype=float))]
    if iq is not None and np.isfinite(iq).any():
        parts.append(percentile_rank(iq))
    stacked = np.vstack(parts)
    with np.errstate(invalid="ignore"):
        return np.nanmean(np.where(np.isfinite(stacked), stacked, np.nan), axis=0)

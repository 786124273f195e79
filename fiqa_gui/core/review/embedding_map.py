"""The embedding map: images as points in 2-D, by PCA of their L2-normalised embeddings (the
space the cosine scores live in), for one cluster or a seeded sample of the dataset.

PCA from the d×d covariance (`eigh`), which costs O(n·d²) and never an n×n matrix; each
axis's sign is fixed (its largest loading positive), so the same images give the same map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_SIZE = 20000


@dataclass(frozen=True)
class EmbeddingMap:
    """Points of `ids` in the plane of the first two principal axes."""

    ids: np.ndarray          # image ids, one per point
    xy: np.ndarray           # (n, 2) coordinates
    explained: np.ndarray    # share of the variance on each axis (2,)


def pca_2d(x: np.ndarray, normalise: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(coordinates (n, 2), explained variance ratio (2,), axes (2, d)) of rows `x` (after
    L2 normalisation when `normalise`). Fewer than two usable dimensions give zeros there."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError("embeddings must be a 2-D array")
    n, d = x.shape
    if normalise and n:
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        x = x / np.where(norms > 0, norms, 1.0)
    if n == 0:
        return np.zeros((0, 2)), np.zeros(2), np.zeros((2, d))
    xc = x - x.mean(axis=0)
    cov = xc.T @ xc / max(n - 1, 1)
    values, vectors = np.linalg.eigh(cov)  # ascending
    order = np.argsort(values)[::-1][:2]
    axes = vectors[:, order].T  # (k, d), k ≤ 2
    values = np.clip(values[order], 0, None)
    if len(axes) < 2:  # d == 1
        axes = np.vstack([axes, np.zeros((2 - len(axes), d))])
        values = np.concatenate([values, np.zeros(2 - len(values))])
    # a deterministic sign: each axis's largest loading is positive
    big = np.argmax(np.abs(axes), axis=1)
    signs = np.sign(axes[np.arange(2), big])
    axes = axes * np.where(signs == 0, 1.0, signs)[:, None]
    total = float(np.clip(np.trace(cov), 0, None))
    explained = values / total if total > 0 else np.zeros(2)
    return xc @ axes.T, explained, axes


def sample_ids(n: int, k: int = SAMPLE_SIZE, seed: int = 0,
               keep: np.ndarray | None = None) -> np.ndarray:
    """Up to `k` image ids out of `n`, drawn with `seed` (every id when n ≤ k), ascending;
    `keep` ids (up to k of them) are always in: e.g. the flagged images, none left off."""
    if n <= k:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    kept = np.zeros(0, dtype=np.int64) if keep is None else \
        np.unique(np.asarray(keep, dtype=np.int64))[:k]
    rest = np.setdiff1d(np.arange(n, dtype=np.int64), kept, assume_unique=True)
    drawn = rng.choice(rest, size=k - len(kept), replace=False)
    return np.sort(np.concatenate([kept, drawn])).astype(np.int64)


def embedding_map(embeddings: np.ndarray, ids: np.ndarray) -> EmbeddingMap:
    """The map of these images (rows of `embeddings`, which may be memory-mapped: only these
    rows are read)."""
    ids = np.asarray(ids, dtype=np.int64)
    order = np.argsort(ids, kind="stable")  # ascending reads are sequential on a memory map
    rows = np.empty((len(ids), embeddings.shape[1]), dtype=np.float64)
    rows[order] = np.asarray(embeddings[ids[order]], dtype=np.float64)
    xy, explained, _ = pca_2d(rows)
    return EmbeddingMap(ids=ids, xy=xy, explained=explained)


def colour_values(values: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Values scaled to 0..1 between their 2nd and 98th percentile (NaN stays NaN), and that
    range: one outlier does not wash out the colours of the rest."""
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    if not ok.any():
        return np.full(len(v), np.nan), np.nan, np.nan
    lo, hi = np.percentile(v[ok], [2, 98])
    if hi <= lo:
        hi = lo + 1.0
    with np.errstate(invalid="ignore"):
        return np.clip((v - lo) / (hi - lo), 0, 1), float(lo), float(hi)

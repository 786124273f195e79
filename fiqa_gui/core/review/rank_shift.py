"""How a cluster's ranking moves from SDD to quality: Spearman and the biggest mover
(numpy only, so the GUI thread never waits for scipy)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fiqa_gui.core.labels.ranking import descending_ranks


@dataclass(frozen=True)
class RankShift:
    """How a cluster's ranking moved from one score to another (SDD → quality)."""

    spearman: float    # rank correlation over images with both scores; NaN below 3
    mover: int         # image id that moved most (-1 if none)
    move: int          # places it moved up (positive) or down (negative)
    n: int             # images with both scores


def rank_shift(scores: dict | None, members: np.ndarray, a: str = "sdd",
               b: str = "quality") -> RankShift | None:
    """Spearman between scores `a` and `b` inside one cluster, and its biggest mover; None when
    the run lacks either score."""
    if not scores or a not in scores or b not in scores:
        return None
    members = np.asarray(members, dtype=np.int64)
    va = np.asarray(scores[a], dtype=float)[members]
    vb = np.asarray(scores[b], dtype=float)[members]
    ok = np.isfinite(va) & np.isfinite(vb)
    n = int(ok.sum())
    if n < 2:
        return RankShift(math.nan, -1, 0, n)
    moves = descending_ranks(va[ok]) - descending_ranks(vb[ok])
    k = int(np.argmax(np.abs(moves)))
    rho = spearman(va[ok], vb[ok]) if n >= 3 else math.nan
    return RankShift(rho, int(members[ok][k]) if moves[k] else -1, int(moves[k]), n)


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties sharing their average rank (as scipy's `rankdata`)."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    return (np.bincount(inverse, weights=ranks) / counts)[inverse]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two finite vectors (NaN when either is constant) — in
    numpy, so the GUI thread never waits for scipy's import."""
    ra, rb = _average_ranks(np.asarray(a, float)), _average_ranks(np.asarray(b, float))
    ra -= ra.mean()
    rb -= rb.mean()
    denom = math.sqrt(float(ra @ ra) * float(rb @ rb))
    return float(ra @ rb) / denom if denom > 0 else math.nan

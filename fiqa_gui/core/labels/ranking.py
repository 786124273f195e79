"""Small numpy idioms the per-cluster computations use: members by cluster, ranks.

Pure numpy (no scipy), so the GUI's core modules can import it without start-up cost.
"""

from __future__ import annotations

import numpy as np


def cluster_members(labels: np.ndarray) -> list[np.ndarray]:
    """Image ids of each cluster present in `labels`, clusters in ascending label order and
    ids ascending inside each (one stable argsort, O(n log n))."""
    labels = np.asarray(labels)
    if not len(labels):
        return []
    order = np.argsort(labels, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)


def descending_ranks(values: np.ndarray) -> np.ndarray:
    """Rank 1 = highest value; NaN ranks last; ties keep their order of position."""
    values = np.nan_to_num(np.asarray(values, dtype=float), nan=-np.inf)
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[order] = np.arange(1, len(values) + 1)
    return ranks


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ascending ranks, ties given the mean of their ranks (scipy's
    `rankdata(method="average")`, without importing scipy.stats: ~1 s of every start-up)."""
    v = np.asarray(values)
    order = np.argsort(v, kind="stable")
    sv = v[order]
    starts = np.flatnonzero(np.r_[True, sv[1:] != sv[:-1]])
    ends = np.r_[starts[1:], len(sv)]
    mean_rank = (starts + ends + 1) / 2.0
    ranks = np.empty(len(v))
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks

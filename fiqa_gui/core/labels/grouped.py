"""Per-cluster statistics for every cluster at once: medians, ranks, sums of unit rows and
near-identical pairs, without a Python loop over clusters.

The flags and `quality` need, per cluster, a median or two, the rank of each image and the
pairwise cosines; written as a loop over clusters that is ~10 numpy calls per cluster, which at
MS1MV2's 85.7 k identities costs more than the scores themselves. Here one stable sort by
(cluster, value) gives every median and rank; sums of unit rows stream once over the rows; and
pairs above a cosine threshold come from batched matrix products over clusters padded to a
common size.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

CHUNK = 65536  # rows per streamed block
PAIRS = 1 << 24  # cosines per batched product (64 MiB in float32)
BIG = 4096       # clusters above this size are checked alone, in row blocks


class Groups:
    """The clusters of `labels`: `order` lists image ids cluster by cluster (ids ascending
    inside; sorted when first asked for), `start[c]`/`size[c]` locate cluster c in it (size 0
    for absent clusters)."""

    def __init__(self, labels: np.ndarray, n_clusters: int | None = None):
        self.labels = np.asarray(labels, dtype=np.int64)
        n_c = int(n_clusters if n_clusters is not None else
                  (self.labels.max() + 1 if len(self.labels) else 0))
        self.n_clusters = n_c
        self.size = np.bincount(self.labels, minlength=n_c)
        self.start = np.concatenate([[0], np.cumsum(self.size)[:-1]]) if n_c else \
            np.zeros(0, np.int64)
        self.present = np.flatnonzero(self.size)

    @cached_property
    def order(self) -> np.ndarray:
        return np.argsort(self.labels, kind="stable")

    def members(self, c: int) -> np.ndarray:
        return self.order[self.start[c]:self.start[c] + self.size[c]]

    def order_by(self, *keys: np.ndarray) -> np.ndarray:
        """Image ids cluster by cluster, inside each by `keys` (the first the primary, all
        ascending), ties by id."""
        return np.lexsort((np.arange(len(self.labels)), *reversed(keys), self.labels))

    def finite_count(self, values: np.ndarray) -> np.ndarray:
        """Finite values per cluster."""
        return np.bincount(self.labels, weights=np.isfinite(values),
                           minlength=self.n_clusters).astype(np.int64)

    def nanmean(self, values: np.ndarray) -> np.ndarray:
        """Mean of each cluster's finite values (NaN for a cluster without any)."""
        v = np.asarray(values, dtype=float)
        ok = np.isfinite(v)
        total = np.bincount(self.labels, weights=np.where(ok, v, 0.0),
                            minlength=self.n_clusters)
        with np.errstate(invalid="ignore", divide="ignore"):
            return total / self.finite_count(v)

    def nanmedian(self, values: np.ndarray) -> np.ndarray:
        """Median of each cluster's finite values (NaN for a cluster without any)."""
        v = np.asarray(values, dtype=float)
        out = np.full(self.n_clusters, np.nan)
        if not len(v):
            return out
        # the finite values first in each cluster (±inf and NaN after them, as not counted)
        ordered = v[self.order_by(np.where(np.isfinite(v), v, np.inf))]
        finite = self.finite_count(v)
        has = np.flatnonzero(finite)
        lo = self.start[has] + (finite[has] - 1) // 2
        hi = self.start[has] + finite[has] // 2
        out[has] = 0.5 * (ordered[lo] + ordered[hi])
        return out

    def descending_ranks(self, values: np.ndarray) -> np.ndarray:
        """Each image's rank inside its cluster, 1 = highest; NaN last; ties by id (what
        `ranking.descending_ranks` gives cluster by cluster)."""
        v = np.asarray(values, dtype=float)
        order = self.order_by(np.where(np.isnan(v), np.inf, -v))
        return self.positions(order) + 1

    def positions(self, order: np.ndarray) -> np.ndarray:
        """For an `order_by` result: each image's 0-based place inside its cluster."""
        pos = np.empty(len(order), dtype=np.int64)
        pos[order] = np.arange(len(order)) - self.start[self.labels[order]]
        return pos

    def unit_sums(self, embeddings: np.ndarray) -> np.ndarray:
        """C×d float64 sums of each cluster's L2-normalised rows (CR's class sums: rows
        normalised in float32, sums accumulated in float64)."""
        import torch

        from fiqa_gui.core.scoring.cr import class_sums

        return class_sums(embeddings, self.labels, self.n_clusters, torch.device("cpu")).numpy()

    def close_pairs_clusters(self, embeddings: np.ndarray, threshold: float) -> np.ndarray:
        """Clusters holding two distinct images with cosine ≥ `threshold` (screened in float32
        with a margin of 1e-4, so the float64 check the caller makes never misses a pair)."""
        import torch

        screen = threshold - 1e-4
        hits: list[np.ndarray] = []
        multi = self.present[self.size[self.present] >= 2]
        if not len(multi):
            return np.zeros(0, np.int64)
        # buckets of clusters padded to a power of two: 2, 4, ..., and the large ones alone
        width = 1 << np.ceil(np.log2(self.size[multi])).astype(np.int64)
        for w in np.unique(width):
            cs = multi[width == w]
            if w > BIG:
                hits.extend(np.array([c]) for c in cs
                            if _has_close_pair(embeddings[self.members(c)], screen))
                continue
            per = max(1, min(CHUNK // int(w), PAIRS // int(w) ** 2))
            for b in range(0, len(cs), per):
                batch = cs[b:b + per]
                ids = np.full((len(batch), int(w)), -1, dtype=np.int64)
                offs = np.arange(int(w))
                take = offs[None, :] < self.size[batch][:, None]
                ids[take] = self.order[(self.start[batch][:, None] + offs[None, :])[take]]
                flat = ids[take]
                rows = np.zeros((ids.size, embeddings.shape[1]), dtype=np.float32)
                sort = np.argsort(flat)
                rows[np.flatnonzero(take.ravel())[sort]] = unit_rows(embeddings[flat[sort]],
                                                                       np.float32)
                x = torch.from_numpy(rows).view(len(batch), int(w), -1)
                s = torch.bmm(x, x.transpose(1, 2))
                s.diagonal(dim1=1, dim2=2).fill_(-2.0)
                found = (s >= screen).flatten(1).any(dim=1).numpy()
                if found.any():
                    hits.append(batch[found])
        return np.sort(np.concatenate(hits)) if hits else np.zeros(0, np.int64)


def _has_close_pair(x: np.ndarray, screen: float) -> bool:
    """Whether two distinct rows of one large cluster have cosine ≥ `screen` (row blocks)."""
    x = unit_rows(x, np.float32)
    for r in range(0, len(x), 1024):
        s = x[r:r + 1024] @ x.T
        np.fill_diagonal(s[:, r:], -2.0)
        if (s >= screen).any():
            return True
    return False


def unit_rows(block: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Copies of the rows in `dtype`, L2-normalised (zero rows stay zero)."""
    x = np.array(block, dtype=dtype)
    norm = np.sqrt(np.einsum("ij,ij->i", x, x))[:, None]
    x /= np.where(norm > 0, norm, 1.0)
    return x

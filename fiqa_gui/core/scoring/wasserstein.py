"""Batched 1-D Wasserstein-1 distance between rows of two tensors, on any torch device.

`W1(P, N)` is what `scipy.stats.wasserstein_distance(P, N)` returns: the integral of
|F_P - F_N| over the real line. The same quantity is the L1 distance between the two quantile
functions, `∫_0^1 |Q_P(t) - Q_N(t)| dt`, and that form needs no per-row merge: Q_P is constant on
the intervals ((j-1)/p, j/p] and Q_N on ((j-1)/m, j/m], so on the union of those breakpoints both
are constant and the integral is a fixed weighted sum `Σ_l w_l |P_(a_l) - N_(b_l)|` whose index
vectors `a`, `b` and weights `w` depend only on (p, m). Rows are sorted once, then one gather and
one matrix-vector product give every row's distance; no Python loop per row.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch


@lru_cache(maxsize=256)
def _quantile_grid(p: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index vectors (a, b) and interval lengths w of the merged quantile grid of sizes p and m.

    Breakpoints are kept as exact integers in units of 1/(p·m): j·m for P, j·p for N.
    """
    if p < 1 or m < 1:
        raise ValueError(f"W1 needs non-empty sets, got sizes {p} and {m}")
    bp = np.union1d(np.arange(p + 1, dtype=np.int64) * m, np.arange(m + 1, dtype=np.int64) * p)
    left = bp[:-1]
    a = left // m  # the P order statistic active on [left, next) (0-based)
    b = left // p  # the N order statistic active there
    w = np.diff(bp).astype(np.float64) / float(p * m)
    return a, b, w


def w1_sorted(ps: torch.Tensor, ns: torch.Tensor) -> torch.Tensor:
    """W1 between matching rows of ascending-sorted `ps` (..., p) and `ns` (..., m) → (...).

    Equal sizes reduce to `mean(|ps - ns|)`; unequal sizes use the merged quantile grid.
    """
    p, m = ps.shape[-1], ns.shape[-1]
    if p == m:
        return (ps - ns).abs().mean(dim=-1)
    a, b, w = _quantile_grid(p, m)
    dev = ps.device
    if len(a) == p and np.array_equal(a, np.arange(p)):
        pa = ps  # m divides p: every P order statistic is its own interval
    else:
        pa = ps.index_select(-1, torch.from_numpy(a).to(dev))
    if len(b) == m and np.array_equal(b, np.arange(m)):
        nb = ns
    else:
        nb = ns.index_select(-1, torch.from_numpy(b).to(dev))
    wt = torch.from_numpy(w).to(device=dev, dtype=ps.dtype)
    return (pa - nb).abs() @ wt


def w1_sorted_cols(ps: torch.Tensor, ns: torch.Tensor) -> torch.Tensor:
    """W1 between matching *columns* of ascending-sorted `ps` (p, ...) and `ns` (m, ...) → (...).

    The column layout is what the scorer's sorting networks produce (one contiguous vector per
    order statistic); the arithmetic is the same as `w1_sorted`.
    """
    p, m = ps.shape[0], ns.shape[0]
    if p == m:
        return (ps - ns).abs_().mean(dim=0)
    a, b, w = _quantile_grid(p, m)
    dev = ps.device
    pa = ps if len(a) == p else ps.index_select(0, torch.from_numpy(a).to(dev))
    nb = ns if len(b) == m else ns.index_select(0, torch.from_numpy(b).to(dev))
    wt = torch.from_numpy(w).to(device=dev, dtype=ps.dtype)
    diff = (pa - nb).abs_()
    return torch.tensordot(wt, diff, dims=([0], [0]))


@lru_cache(maxsize=64)
def _batcher_network(n: int) -> tuple[tuple[int, int], ...]:
    """Batcher's odd-even merge sort comparators for n inputs (power-of-two network, with the
    comparators that touch padding positions ≥ n dropped: padding would be +inf and never move)."""
    size = 1
    while size < n:
        size *= 2
    comps = []
    p = 1
    while p < size:
        k = p
        while k >= 1:
            for j in range(k % p, size - k, 2 * k):
                for i in range(min(k, size - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        comps.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return tuple((a, b) for a, b in comps if b < n)


NETWORK_MAX = 64  # sort columns of at most this many values with a sorting network on the CPU


def sort_columns_(v: torch.Tensor) -> torch.Tensor:
    """Sort along dim 0 in place (ascending) and return `v`.

    On the CPU, short columns (≤ NETWORK_MAX values, the m = 24 / p = 24 case) go through a
    sorting network: each comparator is one vectorised min/max over all columns, ~10× faster
    than `torch.sort` on many short rows. The sorted values are identical either way.
    """
    n = v.shape[0]
    if n <= 1:
        return v
    if v.device.type != "cpu" or n > NETWORK_MAX:
        v.copy_(torch.sort(v, dim=0).values)
        return v
    tmp = torch.empty_like(v[0])
    for a, b in _batcher_network(n):
        va, vb = v[a], v[b]
        torch.minimum(va, vb, out=tmp)
        torch.maximum(va, vb, out=vb)
        va.copy_(tmp)
    return v


def w1(p_values: torch.Tensor, n_values: torch.Tensor) -> torch.Tensor:
    """W1 between matching rows of `p_values` (..., p) and `n_values` (..., m), unsorted input."""
    return w1_sorted(torch.sort(p_values, dim=-1).values, torch.sort(n_values, dim=-1).values)


def w1_numpy(p_values: np.ndarray, n_values: np.ndarray) -> float:
    """W1 of two 1-D arrays (float64) — a convenience for the GUI and for checks."""
    pt = torch.as_tensor(np.asarray(p_values, dtype=np.float64)).reshape(1, -1)
    nt = torch.as_tensor(np.asarray(n_values, dtype=np.float64)).reshape(1, -1)
    return float(w1(pt, nt)[0])

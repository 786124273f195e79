"""Multi-threshold clustering: a k-NN graph over cosine similarity, components at nested levels.

Every image is linked to its `k` nearest neighbours (inner product of L2-normalised embeddings)
whose cosine is at least the loosest threshold; a level at threshold `t` keeps the edges with
cosine >= t and takes connected components (the graph is treated as undirected: i-j is an edge when
j is among i's k nearest or i among j's). All levels are cut from the SAME neighbour lists, so the
edges of a tighter level are a subset of the looser one's and every tight component lies inside
one loose component (nested by construction; `cluster_embeddings` also checks it).

Two uses: sub-clusters inside each identity cluster (`groups=` the cluster labels: neighbours are
searched only within the cluster, exactly) and grouping un-clustered face crops into identity
clusters (`cluster_folder_to_manifest`).

Neighbour search (`index=`):
- "exact": faiss `IndexFlatIP` (brute force, BLAS). Default up to `AUTO_EXACT_MAX` images.
- "ivf": an inverted-file self-join built for the all-pairs k-NN graph (`IvfParams`). Spherical
  k-means (faiss) on the mean-centred embeddings cuts ~n/512 cells (centring stops degraded images,
  which all drift toward the dataset mean, from piling into one giant cell); each image is scored
  against the images of its `nprobe` nearest cells, one BLAS product per cell (about 5x faster on
  2 cores than `IndexIVFFlat`'s per-query list scans, measured). Then `refine` neighbour-of-
  neighbour passes (NN-descent style) recover the edges the probes missed. Cosines are exact;
  only the candidate set is approximate. Deterministic for a seed. Recall and time at 1M x 512:
  BENCHMARKS.md ("Clustering, sampling and export").
- "hnsw": faiss `IndexHNSWFlat` (M=32, efConstruction=80, efSearch=max(64, 4k)), for comparison;
  its multi-threaded build is not bit-reproducible and its recall was lower on our benchmark.
- "auto": exact up to `AUTO_EXACT_MAX` images, else ivf.
"""

from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from fiqa_gui.core.atomic_output import atomic_file, check_destination
from fiqa_gui.core.embeddings import load_embeddings, validate_embeddings
from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.image_folder import IMAGE_EXTENSIONS
from fiqa_gui.core.progress import CancelToken, ProgressCallback, no_progress
from fiqa_gui.core.store.schema import transaction

INDEX_KINDS = ("auto", "exact", "ivf", "hnsw")
AUTO_EXACT_MAX = 20_000
DEFAULT_THRESHOLDS = (0.7, 0.6, 0.5)
DEFAULT_K = 16
CHUNK_ROWS = 16384
RUN_KIND = "cluster"


# ----------------------------------------------------------------------------- the k-NN graph
@dataclass(frozen=True)
class IvfParams:
    """Parameters of the IVF self-join; `nlist=None` picks ~n/512 cells."""

    nlist: int | None = None
    nprobe: int = 4            # cells each image is scored against
    refine: int = 2            # neighbour-of-neighbour passes after the cell join
    train_per_list: int = 16   # k-means training sample = train_per_list * nlist images
    niter: int = 10            # k-means iterations

    def resolved_nlist(self, n: int) -> int:
        if self.nlist is not None:
            return max(1, min(int(self.nlist), n))
        return max(1, min(n, 65536, int(round(n / 512))))


@dataclass
class KnnGraph:
    """Each row's neighbours (`ids`, -1 = none) and their cosines (`sims`), best first."""

    ids: np.ndarray    # (n, k) int64
    sims: np.ndarray   # (n, k) float32, -inf where ids == -1
    method: str
    params: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.ids.shape[0]


def normalise_rows(x: np.ndarray) -> np.ndarray:
    """float32 copy with unit-length rows (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return x / norms


def _normalised_copy(x: np.ndarray, progress: ProgressCallback,
                     cancel: CancelToken | None) -> np.ndarray:
    n = x.shape[0]
    out = np.empty((n, x.shape[1]), dtype=np.float32)
    for s in range(0, n, CHUNK_ROWS):
        _check(cancel)
        out[s:s + CHUNK_ROWS] = normalise_rows(x[s:s + CHUNK_ROWS])
        progress(min(n, s + CHUNK_ROWS), n, "normalising embeddings")
    return out


def _check(cancel: CancelToken | None) -> None:
    if cancel is not None:
        cancel.check()


def _topk_rows(rows: np.ndarray, cols: np.ndarray, sims: np.ndarray, n: int,
               k: int) -> tuple[np.ndarray, np.ndarray]:
    """Reduce (row, col, sim) triplets to each row's k best, ties broken by the smaller col."""
    ids = np.full((n, k), -1, dtype=np.int64)
    out = np.full((n, k), -np.inf, dtype=np.float32)
    if len(rows) == 0:
        return ids, out
    order = np.lexsort((cols, -sims, rows))
    rows, cols, sims = rows[order], cols[order], sims[order]
    start = np.searchsorted(rows, np.arange(n))
    rank = np.arange(len(rows)) - start[rows]
    keep = rank < k
    ids[rows[keep], rank[keep]] = cols[keep]
    out[rows[keep], rank[keep]] = sims[keep]
    return ids, out


def _graph_to_triplets(ids: np.ndarray, sims: np.ndarray):
    r, j = np.nonzero(ids >= 0)
    return r.astype(np.int64), ids[r, j], sims[r, j]


def knn_graph(x: np.ndarray, k: int = DEFAULT_K, *, min_sim: float = -1.0,
              index: str = "auto", seed: int = 0, ivf: IvfParams | None = None,
              progress: ProgressCallback = no_progress,
              cancel: CancelToken | None = None) -> KnnGraph:
    """The k nearest neighbours (cosine) of every row among the other rows, keeping cos >= min_sim.

    `x` may be a memory map; it is read in chunks and copied once, normalised (n*d*4 bytes).
    """
    if index not in INDEX_KINDS:
        raise UserInputError(f"unknown index {index!r}",
                             fix=f"use one of {', '.join(INDEX_KINDS)}.")
    n = x.shape[0]
    k = int(k)
    if k < 1:
        raise UserInputError(f"k must be at least 1 (got {k})", fix="pass --k 16 or similar.")
    if index == "auto":
        index = "exact" if n <= AUTO_EXACT_MAX else "ivf"
    if n <= 1:
        return KnnGraph(np.full((n, k), -1, np.int64), np.full((n, k), -np.inf, np.float32),
                        index, {"k": k})
    xn = _normalised_copy(x, progress, cancel)
    if index == "exact":
        ids, sims = _exact_knn(xn, k, min_sim, progress, cancel)
        params = {"k": k}
    elif index == "ivf":
        ivf = ivf or IvfParams()
        ids, sims, params = _ivf_knn(xn, k, min_sim, ivf, seed, progress, cancel)
    else:
        ids, sims, params = _hnsw_knn(xn, k, min_sim, progress, cancel)
    params["min_sim"] = float(min_sim)
    return KnnGraph(ids, sims, index, params)


def _exact_knn(xn: np.ndarray, k: int, min_sim: float, progress: ProgressCallback,
               cancel: CancelToken | None) -> tuple[np.ndarray, np.ndarray]:
    index = faiss.IndexFlatIP(xn.shape[1])
    index.add(xn)
    return _search_all(index, xn, k, min_sim, 4096, "exact neighbour search", progress, cancel)


def _search_all(index, xn: np.ndarray, k: int, min_sim: float, step: int, stage: str,
                progress: ProgressCallback, cancel: CancelToken | None):
    """Every row's k nearest others in a built faiss index (cosine ≥ min_sim), top-k rows."""
    n = len(xn)
    kk = min(n, k + 1)  # +1: every row finds itself
    rows, cols, sims = [], [], []
    for s in range(0, n, step):
        _check(cancel)
        D, I = index.search(xn[s:s + step], kk)
        r = np.repeat(np.arange(s, s + len(I)), kk)
        I, D = I.ravel(), D.ravel()
        keep = (I >= 0) & (I != r) & (D >= min_sim)
        rows.append(r[keep])
        cols.append(I[keep])
        sims.append(D[keep])
        progress(min(n, s + step), n, stage)
    return _topk_rows(np.concatenate(rows), np.concatenate(cols), np.concatenate(sims), n, k)


def _hnsw_knn(xn: np.ndarray, k: int, min_sim: float, progress: ProgressCallback,
              cancel: CancelToken | None):
    n, d = xn.shape
    index = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 80
    for s in range(0, n, CHUNK_ROWS):
        _check(cancel)
        index.add(xn[s:s + CHUNK_ROWS])
        progress(min(n, s + CHUNK_ROWS), n, "building HNSW index")
    ef = max(64, 4 * k)
    index.hnsw.efSearch = ef
    ids, out = _search_all(index, xn, k, min_sim, CHUNK_ROWS, "HNSW neighbour search",
                           progress, cancel)
    return ids, out, {"k": k, "M": 32, "efConstruction": 80, "efSearch": ef}


# ----------------------------------------------------------------------------- IVF self-join
def _spherical_kmeans(x: np.ndarray, m: int, niter: int, seed: int) -> np.ndarray:
    m = max(1, min(m, len(x)))
    if m == 1:
        c = x.mean(axis=0, keepdims=True)
        return normalise_rows(c if np.any(c) else x[:1])
    km = faiss.Kmeans(x.shape[1], m, niter=niter, seed=seed, spherical=True,
                      min_points_per_centroid=1, max_points_per_centroid=1 << 30)
    km.train(np.ascontiguousarray(x, dtype=np.float32))
    return normalise_rows(km.centroids)


def _partition_space(xn: np.ndarray, mean: np.ndarray, rows: slice | np.ndarray) -> np.ndarray:
    """Rows mapped to the space the cells are built in: mean-centred, renormalised."""
    return normalise_rows(xn[rows] - mean)


def _ivf_knn(xn: np.ndarray, k: int, min_sim: float, p: IvfParams, seed: int,
             progress: ProgressCallback, cancel: CancelToken | None):
    n, d = xn.shape
    nlist = p.resolved_nlist(n)
    mean = np.zeros(d, dtype=np.float64)
    for s in range(0, n, CHUNK_ROWS):
        mean += xn[s:s + CHUNK_ROWS].sum(axis=0, dtype=np.float64)
    mean = (mean / n).astype(np.float32)
    progress(0, 1, "training cells")
    rng = np.random.default_rng(seed)
    m = min(n, max(p.train_per_list * nlist, 1000))
    sample = np.sort(rng.choice(n, size=m, replace=False)) if m < n else np.arange(n)
    cells = _spherical_kmeans(_partition_space(xn, mean, sample), nlist, p.niter, seed)
    nlist = len(cells)
    progress(1, 1, "training cells")
    nprobe = min(p.nprobe, nlist)
    quantizer = faiss.IndexFlatIP(d)
    quantizer.add(cells)
    probes = np.empty((n, nprobe), dtype=np.int64)
    for s in range(0, n, CHUNK_ROWS):
        _check(cancel)
        _, probes[s:s + CHUNK_ROWS] = quantizer.search(
            _partition_space(xn, mean, slice(s, s + CHUNK_ROWS)), nprobe)
        progress(min(n, s + CHUNK_ROWS), n, "assigning cells")
    home = probes[:, 0]                     # the cell an image is stored in
    order = np.argsort(home, kind="stable")
    bounds = np.searchsorted(home[order], np.arange(nlist + 1))
    best = _join_cells(xn, order, bounds, probes, min_sim, k, progress, cancel)
    del probes
    ids, sims = _topk_rows(*best, n, k)
    for r in range(p.refine):
        ids, sims = _refine(xn, ids, sims, min_sim, k, r, progress, cancel)
    params = {"k": k, "nlist": int(nlist), "nprobe": int(nprobe), "refine": p.refine,
              "train_per_list": p.train_per_list, "niter": p.niter, "seed": seed,
              "partition": "mean-centred spherical k-means"}
    return ids, sims, params


def _join_cells(xn, order, bounds, probes, min_sim, k, progress, cancel):
    """Score every cell against all images probing it, one matrix product per cell (block)."""
    n = len(order)
    nlist = len(bounds) - 1
    flat = probes.ravel()
    qrow = np.repeat(np.arange(n, dtype=np.int64), probes.shape[1])
    qorder = np.argsort(flat, kind="stable")
    flat, qrow = flat[qorder], qrow[qorder]
    qbounds = np.searchsorted(flat, np.arange(nlist + 1))
    del flat, qorder
    acc_r, acc_c, acc_s = [], [], []
    pending = 0
    best = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32))
    for cell in range(nlist):
        if cell % 32 == 0:
            _check(cancel)
            progress(cell, nlist, "joining cells")
        lo, hi = bounds[cell], bounds[cell + 1]
        if lo == hi:
            continue
        members = order[lo:hi]
        block_t = np.ascontiguousarray(xn[members].T)  # BLAS is ~5x slower on a strided view
        queries = qrow[qbounds[cell]:qbounds[cell + 1]]
        for s in range(0, len(queries), 8192):
            q = queries[s:s + 8192]
            sims = xn[q] @ block_t
            r, c = np.nonzero(sims >= min_sim)
            qi, mi = q[r], members[c]
            keep = qi != mi
            acc_r.append(qi[keep])
            acc_c.append(mi[keep])
            acc_s.append(sims[r, c][keep])
            pending += int(keep.sum())
        if pending > 16 * n + 4_000_000:  # bound memory: fold into each row's running top-k
            best = _fold(best, acc_r, acc_c, acc_s, n, k)
            acc_r, acc_c, acc_s, pending = [], [], [], 0
    progress(nlist, nlist, "joining cells")
    return _fold(best, acc_r, acc_c, acc_s, n, k)


def _refine(xn, ids, sims, min_sim, k, round_, progress, cancel):
    """One neighbour-of-neighbour pass (as in NN-descent), keeping each row's k best.

    Rows are taken in blocks of 512 that share neighbours (sorted by the smallest id among a row
    and its neighbours, a cheap stand-in for its group), and each block is scored in one matrix
    product against the union of its rows' neighbours and neighbours' neighbours; since that
    union holds every current neighbour, each row's new list is simply its k best there (lists
    only improve). This recovers nearly every edge the cell probes missed (measured: edge recall
    0.65 -> 0.993 -> 0.999 over two passes).
    """
    n = len(ids)
    ids, sims = ids.copy(), sims.copy()
    key = np.minimum(np.where(ids >= 0, ids, n).min(axis=1), np.arange(n))
    order = np.argsort(key, kind="stable")
    block = 512
    stage = f"refining neighbours ({round_ + 1})"
    for s in range(0, n, block):
        if (s // block) % 64 == 0:
            _check(cancel)
            progress(s, n, stage)
        rows = np.sort(order[s:s + block])
        nb = ids[rows]
        nb = nb[nb >= 0]
        nb2 = ids[nb]
        cand = np.unique(np.concatenate([nb, nb2[nb2 >= 0], rows]))
        sm = xn[rows] @ np.ascontiguousarray(xn[cand].T)
        sm[np.arange(len(rows)), np.searchsorted(cand, rows)] = -np.inf  # not itself
        sm[sm < min_sim] = -np.inf
        kk = min(k, len(cand))
        top = np.argpartition(-sm, kk - 1, axis=1)[:, :kk] if kk < len(cand) else \
            np.broadcast_to(np.arange(len(cand)), sm.shape)
        vals = np.take_along_axis(sm, top, axis=1)
        cols = cand[top]
        # best first, ties by the smaller id (deterministic)
        o = np.lexsort((cols, -vals), axis=1)
        vals = np.take_along_axis(vals, o, axis=1)
        cols = np.take_along_axis(cols, o, axis=1)
        ids[rows] = -1
        sims[rows] = -np.inf
        ids[rows, :kk] = np.where(np.isfinite(vals), cols, -1)
        sims[rows, :kk] = vals
    progress(n, n, stage)
    return ids, sims


def _fold(best, acc_r, acc_c, acc_s, n: int, k: int):
    """Merge new (row, col, sim) triplets into the running best and keep each row's k best."""
    if not acc_r:
        return best
    r = np.concatenate([best[0], *acc_r])
    c = np.concatenate([best[1], *acc_c])
    s = np.concatenate([best[2], *acc_s]).astype(np.float32)
    ids, sims = _topk_rows(r, c, s, n, k)
    return _graph_to_triplets(ids, sims)


def knn_recall(graph: KnnGraph, x: np.ndarray, queries: np.ndarray,
               thresholds: tuple[float, ...] = ()) -> dict[str, float]:
    """Recall of `graph` against exact search for the `queries` rows (over all of `x`).

    `recall@k`: share of the exact k nearest (self excluded) found; `edge_recall@t`: the same,
    counting only exact neighbours with cosine >= t (the edges a level at t can use).
    """
    xn = _normalised_copy(x, no_progress, None)
    k = graph.ids.shape[1]
    queries = np.asarray(queries, dtype=np.int64)
    index = faiss.IndexFlatIP(xn.shape[1])
    index.add(xn)
    D, I = index.search(xn[queries], min(len(xn), k + 1))
    out = {}
    levels = [(f"recall@{k}", -np.inf)] + [(f"edge_recall@{t:g}", t) for t in thresholds]
    for name, t in levels:
        found = total = 0
        for row, q in enumerate(queries):
            sel = (I[row] != q) & (I[row] >= 0) & (D[row] >= t)
            exact = set(I[row][sel][:k].tolist())
            mine = graph.ids[q][(graph.ids[q] >= 0) & (graph.sims[q] >= t)]
            found += len(exact & set(mine.tolist()))
            total += len(exact)
        out[name] = found / total if total else 1.0
    return out


# ----------------------------------------------------------------------------- levels
def components(graph: KnnGraph, threshold: float) -> np.ndarray:
    """Connected components of the edges with cosine >= threshold (undirected), canonical labels:
    numbered 0.. in order of each component's smallest row."""
    n = graph.n
    mask = (graph.ids >= 0) & (graph.sims >= threshold)
    rows, cols = np.nonzero(mask)
    adj = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, graph.ids[rows, cols])),
                     shape=(n, n)).tocsr()
    _, labels = connected_components(adj, directed=False)
    return _canonical(labels)


def _canonical(labels: np.ndarray) -> np.ndarray:
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.ravel()]


def check_nested(tight: np.ndarray, loose: np.ndarray) -> bool:
    """True when every tight component lies inside one loose component."""
    pairs = np.unique(np.stack([tight, loose]), axis=1)
    return pairs.shape[1] == len(np.unique(tight))


@dataclass
class ClusteringResult:
    """Component labels per level; level 0 is the tightest (highest cosine) threshold."""

    thresholds: tuple[float, ...]
    labels: np.ndarray            # (levels, n) int64
    within_clusters: bool
    params: dict = field(default_factory=dict)
    duration_s: float | None = None
    run_id: int | None = None
    graph: KnnGraph | None = None  # the neighbour lists, when asked for (`keep_graph=True`)

    @property
    def n_images(self) -> int:
        return self.labels.shape[1]

    def level_of(self, threshold: float) -> int:
        for i, t in enumerate(self.thresholds):
            if abs(t - threshold) < 1e-9:
                return i
        raise UserInputError(f"no level at threshold {threshold:g} (levels: "
                             f"{', '.join(f'{t:g}' for t in self.thresholds)})")

    def summary(self) -> list[dict]:
        """Per level: threshold, components, singletons, largest component."""
        rows = []
        for i, t in enumerate(self.thresholds):
            sizes = np.bincount(self.labels[i])
            rows.append({"level": i, "threshold": t, "components": int(len(sizes)),
                         "singletons": int((sizes == 1).sum()),
                         "largest": int(sizes.max()) if len(sizes) else 0})
        return rows


def _validate_thresholds(thresholds) -> tuple[float, ...]:
    try:
        ts = sorted({float(t) for t in thresholds}, reverse=True)
    except (TypeError, ValueError):
        raise UserInputError(f"thresholds must be numbers (got {thresholds!r})",
                             fix="pass cosine thresholds such as 0.7,0.6,0.5.") from None
    if not ts or any(not -1.0 <= t <= 1.0 for t in ts):
        raise UserInputError(f"thresholds must be cosines in [-1, 1] (got {list(thresholds)})",
                             fix="pass cosine thresholds such as 0.7,0.6,0.5.")
    return tuple(ts)


def cluster_embeddings(x: np.ndarray, thresholds=DEFAULT_THRESHOLDS, *, k: int = DEFAULT_K,
                       groups: np.ndarray | None = None, index: str = "auto", seed: int = 0,
                       ivf: IvfParams | None = None, keep_graph: bool = False,
                       progress: ProgressCallback = no_progress,
                       cancel: CancelToken | None = None) -> ClusteringResult:
    """Nested components of the k-NN graph at each threshold (tight to loose).

    With `groups` (one label per row, e.g. identity clusters), neighbours are searched only
    inside each group, so every component lies inside one group (sub-clusters).
    """
    t0 = time.perf_counter()
    ts = _validate_thresholds(thresholds)
    n = x.shape[0]
    if groups is None:
        graph = knn_graph(x, k, min_sim=ts[-1], index=index, seed=seed, ivf=ivf,
                          progress=progress, cancel=cancel)
        params = dict(graph.params, method=graph.method)
    else:
        groups = np.asarray(groups)
        if len(groups) != n:
            raise ValueError(f"{len(groups)} group labels for {n} rows")
        graph = _grouped_graph(x, groups, k, ts[-1], index, seed, ivf, progress, cancel)
        params = dict(graph.params, method=graph.method)
    labels = np.empty((len(ts), n), dtype=np.int64)
    for i, t in enumerate(ts):
        _check(cancel)
        labels[i] = components(graph, t)
        progress(i + 1, len(ts), "connected components")
    for i in range(1, len(ts)):
        if not check_nested(labels[i - 1], labels[i]):  # cannot happen: edges only grow
            raise RuntimeError("clustering levels are not nested")
    params.update({"thresholds": list(ts), "k": int(k), "seed": int(seed),
                   "within_clusters": groups is not None, "index": index})
    return ClusteringResult(ts, labels, groups is not None, params,
                            duration_s=time.perf_counter() - t0,
                            graph=graph if keep_graph else None)


def _grouped_graph(x, groups, k, min_sim, index, seed, ivf, progress, cancel) -> KnnGraph:
    """k-NN graph with neighbours searched within each group only (exact for small groups)."""
    n = x.shape[0]
    order = np.argsort(groups, kind="stable")
    bounds = np.flatnonzero(np.r_[True, groups[order][1:] != groups[order][:-1], True])
    ids = np.full((n, k), -1, dtype=np.int64)
    sims = np.full((n, k), -np.inf, dtype=np.float32)
    methods = set()
    for b in range(len(bounds) - 1):
        if b % 256 == 0:
            _check(cancel)
            progress(int(bounds[b]), n, "sub-cluster neighbours")
        members = np.sort(order[bounds[b]:bounds[b + 1]])
        m = len(members)
        if m < 2:
            continue
        xg = normalise_rows(x[members])
        if m <= 4096:  # dense: one matrix product, exact
            s = xg @ xg.T
            np.fill_diagonal(s, -np.inf)
            kk = min(k, m - 1)
            top = np.argpartition(-s, kk - 1, axis=1)[:, :kk] if kk < m - 1 else \
                np.broadcast_to(np.arange(m), (m, m))
            top_s = np.take_along_axis(s, top, axis=1)
            rows = np.repeat(np.arange(m), top.shape[1])
            cols, vals = top.ravel(), top_s.ravel()
            keep = (cols != rows) & (vals >= min_sim)
            gi, gs = _topk_rows(rows[keep], cols[keep], vals[keep].astype(np.float32), m, k)
            methods.add("exact")
        else:
            g = knn_graph(xg, k, min_sim=min_sim, index=index, seed=seed, ivf=ivf, cancel=cancel)
            gi, gs = g.ids, g.sims
            methods.add(g.method)
        ids[members] = np.where(gi >= 0, members[np.maximum(gi, 0)], -1)
        sims[members] = gs
    progress(n, n, "sub-cluster neighbours")
    return KnnGraph(ids, sims, "+".join(sorted(methods)) or "exact",
                    {"k": k, "min_sim": float(min_sim), "search": "within each cluster"})


# ----------------------------------------------------------------------------- the store
def store_clustering(project, result: ClusteringResult, params: dict | None = None, *,
                     note: str | None = None) -> int:
    """Store a result as a run of kind 'cluster' with its levels and every image's labels, in
    one transaction; return the run id."""
    n = project.image_count()
    if result.n_images != n:
        raise UserInputError(f"the clustering covers {result.n_images} images but the project "
                             f"has {n}", file=project.folder,
                             fix="cluster the project's own embeddings.")
    run_params = dict(result.params, **(params or {}))
    conn = project.conn
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO runs(kind, params_json, device, seed, duration_s, note) "
            "VALUES (?, ?, 'cpu', ?, ?, ?)",
            (RUN_KIND, json.dumps(run_params, sort_keys=True), run_params.get("seed"),
             result.duration_s, note))
        run_id = int(cur.lastrowid)
        conn.executemany("INSERT INTO cluster_levels(run_id, level, threshold) VALUES (?, ?, ?)",
                         [(run_id, i, float(t)) for i, t in enumerate(result.thresholds)])
        for level in range(len(result.thresholds)):
            labels = result.labels[level]
            conn.executemany(
                "INSERT INTO subclusters(run_id, level, image_id, label) VALUES (?, ?, ?, ?)",
                ((run_id, level, i, int(v)) for i, v in enumerate(labels.tolist())))
        conn.execute("INSERT INTO audit_log(action, after_json) VALUES ('add_run', ?)",
                     (json.dumps({"run_id": run_id, "kind": RUN_KIND,
                                  "thresholds": list(result.thresholds)}),))
    result.run_id = run_id
    return run_id


def latest_clustering_run(project, *, within_clusters: bool | None = None) -> int | None:
    """The id of the newest 'cluster' run (optionally only within-cluster ones), or None."""
    for run in reversed(project.runs(RUN_KIND)):
        if within_clusters is None or bool(run.params.get("within_clusters")) == within_clusters:
            return run.id
    return None


def _resolve_run(project, run_id: int | None) -> int:
    if run_id is None:
        run_id = latest_clustering_run(project)
        if run_id is None:
            raise UserInputError("the project has no clustering run", file=project.folder,
                                 fix="run 'fiqa-gui cluster PROJECT' first.")
    row = project.conn.execute("SELECT kind FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None or row[0] != RUN_KIND:
        raise UserInputError(f"run {run_id} is not a clustering run", file=project.folder,
                             fix="list the runs with 'fiqa-gui info PROJECT'.")
    return int(run_id)


def load_levels(project, run_id: int | None = None) -> list[tuple[int, float]]:
    """(level, threshold) of a stored clustering run, tight to loose."""
    run_id = _resolve_run(project, run_id)
    return [(int(a), float(b)) for a, b in project.conn.execute(
        "SELECT level, threshold FROM cluster_levels WHERE run_id = ? ORDER BY level",
        (run_id,))]


def load_level(project, run_id: int | None, level: int) -> np.ndarray:
    """Every image's label at one level of a stored run (-1 for images added since)."""
    run_id = _resolve_run(project, run_id)
    out = np.full(project.image_count(), -1, dtype=np.int64)
    rows = project.conn.execute(
        "SELECT image_id, label FROM subclusters WHERE run_id = ? AND level = ?",
        (run_id, int(level))).fetchall()
    if not rows:
        raise UserInputError(f"clustering run {run_id} has no level {level}",
                             fix="pick a level listed by 'fiqa-gui info PROJECT'.")
    ids, labels = np.array(rows, dtype=np.int64).T
    out[ids] = labels
    return out


def load_clustering(project, run_id: int | None = None) -> ClusteringResult:
    """A stored clustering run (the latest when `run_id` is None), as a `ClusteringResult`."""
    run_id = _resolve_run(project, run_id)
    levels = load_levels(project, run_id)
    labels = np.stack([load_level(project, run_id, lv) for lv, _ in levels]) if levels else \
        np.empty((0, project.image_count()), dtype=np.int64)
    run = next(r for r in project.runs(RUN_KIND) if r.id == run_id)
    return ClusteringResult(tuple(t for _, t in levels), labels,
                            bool(run.params.get("within_clusters")), run.params,
                            duration_s=run.duration_s, run_id=run_id)


# ----------------------------------------------------------------------------- commands
def cluster_command(source, thresholds=DEFAULT_THRESHOLDS, *, k: int = DEFAULT_K,
                    within_clusters: bool = True, index: str = "auto", seed: int = 0,
                    ivf: IvfParams | None = None, store: bool = True,
                    progress: ProgressCallback = no_progress,
                    cancel: CancelToken | None = None) -> ClusteringResult:
    """`fiqa-gui cluster`: cluster a project (stored as a run unless `store=False`) or arrays.

    `source` is a `Project`, an embeddings array, or `(embeddings, cluster_labels)`.
    With `within_clusters`, levels are sub-clusters of each identity cluster; without, they
    group all images regardless of their clusters.
    """
    groups = None
    project = None
    if isinstance(source, tuple):
        x, groups = source
        groups = np.asarray(groups) if within_clusters else None
    elif isinstance(source, np.ndarray):
        x = source
        if within_clusters:
            raise UserInputError("within-cluster clustering needs the cluster labels",
                                 fix="pass (embeddings, labels), or within_clusters=False.")
    else:
        project = source
        x = project.embeddings()
        if x is None:
            raise UserInputError("the project has no embeddings", file=project.folder,
                                 fix="create it with --embeddings to cluster its images.")
        if within_clusters:
            groups = np.array([r[0] for r in project.conn.execute(
                "SELECT cluster_id FROM images ORDER BY id")], dtype=np.int64)
    result = cluster_embeddings(x, thresholds, k=k, groups=groups, index=index, seed=seed,
                                ivf=ivf, progress=progress, cancel=cancel)
    if project is not None and store:
        store_clustering(project, result)
    return result


def list_images(folder: str | Path) -> list[str]:
    """Image files under `folder` (recursive, hidden entries skipped), as sorted relative POSIX
    paths: the row order an embeddings file for `cluster_folder_to_manifest` must follow."""
    root = Path(folder)
    if not root.is_dir():
        raise UserInputError("the image folder does not exist or is not a folder", file=root,
                             fix="pass a folder of face images.")
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in filenames:
            if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_EXTENSIONS:
                out.append((rel / f).as_posix())
    out.sort()
    if not out:
        raise UserInputError("no image files found", file=root,
                             fix="pass a folder that contains .jpg/.png face crops.")
    return out


@dataclass
class FolderClustering:
    manifest: Path
    images: int
    clusters: int
    singletons: int
    threshold: float


def cluster_folder_to_manifest(images: str | Path, embeddings: str | Path,
                               out_csv: str | Path, *, threshold: float = 0.5,
                               k: int = DEFAULT_K, index: str = "auto", seed: int = 0,
                               force: bool = False, prefix: str = "cluster_",
                               progress: ProgressCallback = no_progress,
                               cancel: CancelToken | None = None) -> FolderClustering:
    """Group a plain folder of face crops into identity clusters; write a `path,cluster` CSV.

    The embeddings rows follow `list_images(images)` order. Clusters are named
    `cluster_00001`, ... by decreasing size (ties: first image); the CSV loads with
    `fiqa-gui init --manifest`. Paths are relative to the CSV's folder where possible.
    """
    out_csv = check_destination(out_csv, force=force, kind="file")
    root = Path(images).absolute()
    paths = list_images(root)
    emb_path = Path(embeddings)
    x = load_embeddings(emb_path)
    validate_embeddings(x, emb_path, len(paths), row_names=paths)
    result = cluster_embeddings(x, (threshold,), k=k, index=index, seed=seed,
                                progress=progress, cancel=cancel)
    labels = result.labels[0]
    sizes = np.bincount(labels)
    first = np.full(len(sizes), len(labels))
    np.minimum.at(first, labels, np.arange(len(labels)))
    rank = np.empty(len(sizes), dtype=np.int64)
    rank[np.lexsort((first, -sizes))] = np.arange(len(sizes))
    width = max(5, len(str(len(sizes))))
    base = out_csv.parent
    with atomic_file(out_csv, force=force) as f:
        w = csv.writer(f)
        w.writerow(["path", "cluster"])
        for i, rel in enumerate(paths):
            p = root / rel
            try:
                shown = Path(os.path.relpath(p, base)).as_posix()
            except ValueError:  # another drive (Windows)
                shown = p.as_posix()
            w.writerow([shown, f"{prefix}{rank[labels[i]] + 1:0{width}d}"])
    return FolderClustering(out_csv, len(paths), int(len(sizes)), int((sizes == 1).sum()),
                            float(threshold))

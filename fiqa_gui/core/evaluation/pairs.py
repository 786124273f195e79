"""Comparison pairs for the error-versus-reject curve: which image pairs, their cosine scores,
genuine or impostor, and what each pair stands for.

Every unordered pair of images is used while there are at most `max_pairs` of them (default
2,000,000; 2,000 images). Above that the pairs are sampled, seeded, by kind: every genuine pair
is kept if they fill at most half the budget (else a uniform sample of half the budget), and the
rest of the budget is a uniform sample of the impostor pairs (drawn without replacement). Each
used pair then carries the weight `total / used` of its kind, so the rejected fraction of all
pairs — genuine and impostor together — keeps its meaning; the sampling is recorded in
`PairSet.sampling` and in every result built from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.progress import CancelToken, ProgressCallback, no_progress

DEFAULT_MAX_PAIRS = 2_000_000
CHUNK_PAIRS = 1 << 15  # pairs per chunk when scoring sampled pairs from (memory-mapped) rows


@dataclass
class PairSet:
    """Pairs `a[k] < b[k]` (image rows) with their cosine `score`, `genuine` mask, the compact
    cluster index of each side and the `weight` each pair carries (1 when every pair is used)."""

    a: np.ndarray
    b: np.ndarray
    score: np.ndarray
    genuine: np.ndarray
    cluster_a: np.ndarray
    cluster_b: np.ndarray
    weight: np.ndarray
    n_clusters: int
    n_images: int
    sampling: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.a)

    @property
    def genuine_pairs(self) -> int:
        return int(self.genuine.sum())

    @property
    def impostor_pairs(self) -> int:
        return int(len(self.a) - self.genuine.sum())


def compact_labels(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Cluster ids renumbered 0..C-1 (any integer ids in, e.g. database cluster ids)."""
    uniq, inverse = np.unique(np.asarray(labels), return_inverse=True)
    return inverse.astype(np.int64).reshape(-1), len(uniq)


def pair_counts(labels: np.ndarray) -> tuple[int, int]:
    """(genuine, impostor) unordered pair counts of a labelling."""
    sizes = np.bincount(compact_labels(labels)[0]).astype(np.int64)
    n = int(sizes.sum())
    genuine = int((sizes * (sizes - 1) // 2).sum())
    return genuine, n * (n - 1) // 2 - genuine


def impostor_pairs_used(labels: np.ndarray, max_pairs: int = DEFAULT_MAX_PAIRS) -> int:
    """How many impostor pairs `build_pairs` will use (all, or the sampled share)."""
    genuine, impostor = pair_counts(labels)
    if genuine + impostor <= max_pairs:
        return impostor
    return min(impostor, max_pairs - min(genuine, max_pairs // 2))


def check_labels(labels: np.ndarray) -> None:
    """Refuse data with one cluster (no impostor pairs) or no cluster of two (no genuine)."""
    compact, n_clusters = compact_labels(labels)
    if n_clusters < 2:
        raise UserInputError("the data holds only one cluster, so there are no impostor pairs to "
                             "fix a threshold on", fix="evaluate on data with two or more "
                             "clusters (identities).")
    if pair_counts(compact)[0] == 0:
        raise UserInputError("every cluster holds a single image, so there are no genuine pairs",
                             fix="evaluate on data where some clusters hold two or more images.")


def unit_rows(embeddings: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """L2-normalised float64 copies of `rows` of `embeddings` (all rows by default)."""
    x = np.asarray(embeddings if rows is None else embeddings[rows], dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def build_pairs(embeddings: np.ndarray, labels: np.ndarray, *,
                max_pairs: int = DEFAULT_MAX_PAIRS, seed: int = 0,
                progress: ProgressCallback = no_progress,
                cancel: CancelToken | None = None, backend=None) -> PairSet:
    """Every pair, or the seeded sample described in the module docstring above `max_pairs`.
    `backend` (a `RayBackend`) scores the sampled pairs in shards, with the same values; every
    pair of a small set (at most `max_pairs`) is one matrix product here."""
    labels, n_clusters = compact_labels(labels)
    n = len(labels)
    if len(embeddings) != n:
        raise UserInputError(f"the embeddings hold {len(embeddings)} rows for {n} images",
                             fix="pass the embeddings of exactly these images, in their order.")
    check_labels(labels)
    if max_pairs < 2:
        raise UserInputError(f"the pair budget must be at least 2 (got {max_pairs})")
    genuine_total, impostor_total = pair_counts(labels)
    progress(0, 1, "building pairs")
    if genuine_total + impostor_total <= max_pairs:
        a, b = np.triu_indices(n, 1)
        x = unit_rows(embeddings)
        score = (x @ x.T)[a, b]
        weight = np.ones(len(a))
        sampling = {"method": "all pairs", "max_pairs": int(max_pairs),
                    "genuine_total": genuine_total, "impostor_total": impostor_total}
    else:
        rng = np.random.default_rng(seed)
        ga, gb = _genuine_pairs(labels, genuine_total, max_pairs // 2, rng)
        ia, ib = _impostor_pairs(labels, impostor_total, max_pairs - len(ga), rng)
        a, b = np.concatenate([ga, ia]), np.concatenate([gb, ib])
        score = _pair_scores(embeddings, a, b, progress, cancel, backend)
        weight = np.concatenate([np.full(len(ga), genuine_total / len(ga)),
                                 np.full(len(ia), impostor_total / len(ia))])
        sampling = {"method": "seeded sample by kind (weights = total / used)",
                    "seed": int(seed), "max_pairs": int(max_pairs),
                    "genuine_total": genuine_total, "genuine_used": int(len(ga)),
                    "impostor_total": impostor_total, "impostor_used": int(len(ia))}
    a, b = a.astype(np.int64), b.astype(np.int64)
    progress(1, 1, "building pairs")
    return PairSet(a=a, b=b, score=np.asarray(score, dtype=np.float64),
                   genuine=labels[a] == labels[b], cluster_a=labels[a], cluster_b=labels[b],
                   weight=weight, n_clusters=n_clusters, n_images=n,
                   sampling=sampling)


def _genuine_pairs(labels: np.ndarray, total: int, budget: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(labels, kind="stable")
    sizes = np.bincount(labels)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    if total <= 2 * budget:  # all of them, cluster by cluster (then a subset if too many)
        parts_a, parts_b = [], []
        for c in np.flatnonzero(sizes >= 2):
            members = order[starts[c]:starts[c] + sizes[c]]
            i, j = np.triu_indices(sizes[c], 1)
            parts_a.append(members[i])
            parts_b.append(members[j])
        a, b = np.concatenate(parts_a), np.concatenate(parts_b)
        if total <= budget:
            return a, b
        pick = rng.choice(total, size=budget, replace=False)
        return a[pick], b[pick]
    # uniform over genuine pairs: a cluster with probability ∝ its pair count, then two members
    per_cluster = sizes * (sizes - 1) / 2.0
    p = per_cluster / per_cluster.sum()

    def draw(k: int) -> tuple[np.ndarray, np.ndarray]:
        c = rng.choice(len(sizes), size=k, p=p)
        i = rng.integers(0, sizes[c])
        j = (i + rng.integers(1, np.maximum(sizes[c], 2))) % sizes[c]  # j != i, uniform
        return order[starts[c] + i], order[starts[c] + j]

    return _draw_distinct(draw, budget, len(labels))


def _impostor_pairs(labels: np.ndarray, total: int, budget: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n = len(labels)
    budget = min(budget, total)
    if budget * 2 >= total:  # most of them: enumerate (≤ 2 budgets) and pick, no rejection
        a, b = np.triu_indices(n, 1)
        across = labels[a] != labels[b]
        a, b = a[across], b[across]
        pick = rng.choice(len(a), size=budget, replace=False)
        return a[pick], b[pick]

    def draw(k: int) -> tuple[np.ndarray, np.ndarray]:
        # rejection sampling: uniform ordered pairs, keep those across clusters
        share = total / (n * (n - 1) / 2)
        m = int(k / max(share, 1e-3) * 1.1) + 16
        a, b = rng.integers(0, n, m), rng.integers(0, n, m)
        keep = labels[a] != labels[b]
        return a[keep], b[keep]

    return _draw_distinct(draw, budget, n)


def _draw_distinct(draw, budget: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """`budget` distinct unordered pairs, in the order `draw` produced them (no index bias)."""
    keys = np.empty(0, dtype=np.int64)
    while len(keys) < budget:
        a, b = draw(budget - len(keys))
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        keys = np.concatenate([keys, lo.astype(np.int64) * n + hi])
        _, first = np.unique(keys, return_index=True)
        keys = keys[np.sort(first)]
    keys = keys[:budget]
    return keys // n, keys % n


def row_norms(embeddings: np.ndarray, chunk: int = 1 << 14) -> np.ndarray:
    """L2 norm of every row (float64), read a chunk of rows at a time."""
    out = np.empty(len(embeddings))
    for s in range(0, len(embeddings), chunk):
        out[s:s + chunk] = np.linalg.norm(np.asarray(embeddings[s:s + chunk], np.float64), axis=1)
    return out


def pair_cosines(embeddings: np.ndarray, a: np.ndarray, b: np.ndarray, inv: np.ndarray,
                 cancel: CancelToken | None = None, on_chunk=None) -> np.ndarray:
    """Cosine of each pair `(a[k], b[k])`, `CHUNK_PAIRS` at a time: the row dot product in
    float64 times the rows' inverse norms `inv`. A pair's value depends on its two rows only,
    so any split of the pairs (over Ray tasks) gives the same numbers."""
    out = np.empty(len(a))
    for s in range(0, len(a), CHUNK_PAIRS):
        if cancel is not None:
            cancel.check()
        ia, ib = a[s:s + CHUNK_PAIRS], b[s:s + CHUNK_PAIRS]
        dots = np.einsum("ij,ij->i", embeddings[ia], embeddings[ib], dtype=np.float64)
        out[s:s + CHUNK_PAIRS] = dots * inv[ia] * inv[ib]
        if on_chunk is not None:
            on_chunk(min(s + CHUNK_PAIRS, len(a)))
    return out


def _pair_task(source, a: np.ndarray, b: np.ndarray, inv: np.ndarray, lo: int):
    """A Ray task: the cosines of one shard of pairs (`scoring.distributed`)."""
    from fiqa_gui.core.scoring.distributed import fault_injection, open_embeddings

    fault_injection()
    return lo, pair_cosines(open_embeddings(source), a, b, inv)


def _pair_scores(embeddings: np.ndarray, a: np.ndarray, b: np.ndarray,
                 progress: ProgressCallback, cancel: CancelToken | None,
                 backend=None) -> np.ndarray:
    """Cosine of each pair (the embeddings may be memory-mapped), the norms computed once;
    with a `backend` (`scoring.distributed.RayBackend`) the pairs are scored in shards."""
    norms = row_norms(embeddings)
    inv = 1.0 / np.where(norms > 0, norms, 1.0)
    what = "scoring sampled pairs"
    if backend is None:
        return pair_cosines(embeddings, a, b, inv, cancel,
                            lambda done: progress(done, len(a), what))
    out = np.empty(len(a))
    source, inv_ref = backend.embeddings_source(embeddings), backend.put(inv)
    per = -(-len(a) // (4 * backend.slots))
    per = -(-per // CHUNK_PAIRS) * CHUNK_PAIRS

    def put(res) -> int:
        lo, vals = res
        out[lo:lo + len(vals)] = vals
        return len(vals)

    backend.map_tasks(_pair_task, [(source, a[lo:lo + per], b[lo:lo + per], inv_ref, lo)
                                   for lo in range(0, len(a), per)],
                      what, len(a), put, progress, cancel)
    return out

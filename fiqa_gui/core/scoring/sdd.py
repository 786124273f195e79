"""SDD-FIQA pseudo-labels (SPEC §1): W1 between an image's positive and negative similarities.

How the sampled mode draws (all randomness from numpy Generators seeded by `(seed, stream,
chunk, repetition)`, never global state, so a repetition's draws do not depend on the device, on
how many repetitions run, or on which other images are scored):

* Images are sorted by cluster; a *chunk* is a group of whole clusters of one size class (or a row
  range of one very large cluster), about 4096 rows. The chunk plan depends only on the labels
  and (positives, negatives), so `similarity_sets` can replay any image's draws.
* Positives, clusters of at most p_max + 1 images: every other member (no randomness), from
  per-cluster blocks `X_c X_cᵀ` computed by one batched matmul per size class.
* Positives, larger clusters up to `BLOCK_MAX` images: the block `X_c X_cᵀ` once per chunk; per
  repetition a uniform random permutation π of the cluster, and each image takes the p_max + 1
  consecutive entries of π from its own uniform random offset, dropping itself if present
  (otherwise the last one). A window of fixed positions in a uniform permutation is a uniform
  random subset, so each image's positives are p_max distinct other members drawn uniformly
  without replacement, as in the paper.
* Positives, clusters above `BLOCK_MAX`: the same windows over a pool of distinct members drawn
  per chunk and per group of `REPS_PER_POOL` repetitions (so the block is never n×n).
* Negatives: per chunk and per group of `REPS_PER_POOL` repetitions, a pool of R distinct images
  drawn uniformly (R ≈ (REPS_PER_POOL + 1)·m), one GEMM `X_chunk · X_poolᵀ`. For each image the
  pool entries of its own cluster are masked out; repetition j of the group takes m consecutive
  valid entries starting at rank ⌊frac(u_i + j/REPS_PER_POOL)·v⌋ (u_i uniform, v = valid
  count). The valid entries are a uniform random ordered sample of the other clusters' images,
  so each draw is m distinct images drawn uniformly over images of other clusters, never the own
  cluster; the repetitions of one group use disjoint windows. Very large clusters draw their pool
  from the other clusters directly. Images of one chunk share a pool (their negative sets overlap
  partly): this is what makes negatives a GEMM instead of an N×m×d gather, and it does not change
  any image's distribution of draws. When fewer than m images lie outside a cluster, its images
  use all of them (`n_negatives` says how many).
* Positive and negative sets are sorted with sorting networks on the CPU (`sort_columns_`) and
  W1 is the fixed quantile-grid sum of `wasserstein.py`; on the CPU whole chunks run in parallel
  threads, each single-threaded, so the output is identical run to run.
* `w_ik = W1(P_ik, N_ik)`; per repetition min-max to [0, 100] over the dataset; mean over K.
* `sdd_signed`: per repetition `100·sign(mean P_ik - mean N_ik)·w_ik / max_i w_ik`, mean over K;
  in [-100, 100]. It is scaled by the maximum only, without the min-max shift: a wrong-identity
  image typically has a *small* W1, which the min shift would map to ≈ 0 and so erase its sign.
  0 means positives and negatives are distributed alike; < 0 flags `identity_suspect`.

Exact mode: all other members vs all images of other clusters (for more than `EXACT_ALL_MAX`
images, vs a fixed seeded pool of `EXACT_POOL` images minus the own cluster), raw W1, no
repetitions, no normalisation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.progress import CancelToken, ProgressCallback, no_progress
from fiqa_gui.core.scoring.device import load_normalized, resolve_device, run_chunks
from fiqa_gui.core.scoring.wasserstein import sort_columns_, w1, w1_sorted, w1_sorted_cols

CHUNK_ROWS = 4096  # rows per chunk; part of the draw plan, so never device-dependent
REPS_PER_POOL = 12  # repetitions sharing one negative pool (disjoint windows inside it)
BLOCK_MAX = 512  # clusters up to this size get a full similarity block
EXACT_ALL_MAX = 20_000  # exact mode compares with every image up to this dataset size
EXACT_POOL = 10_000  # ... and with a fixed seeded pool of this many images above it

_SINGLETON_CID = 1 << 40  # draw ids for singleton previews, far above any real chunk id
_STREAM_POS, _STREAM_NEG, _STREAM_POSPOOL, _STREAM_EXACT = 1, 2, 3, 4


@dataclass
class SDDResult:
    """Per-row SDD outputs in the caller's row order."""

    sdd: np.ndarray  # (N,) float32, mean over repetitions of the [0, 100] normalised W1
    sdd_signed: np.ndarray  # (N,) float32 in [-100, 100]
    raw: np.ndarray  # (N, K) float32 un-normalised W1 per repetition (exact mode: K = 1)
    sign: np.ndarray  # (N, K) int8, sign(mean P - mean N) per repetition
    singleton: np.ndarray  # (N,) bool, cluster of one image: NaN scores
    n_positives: np.ndarray  # (N,) int32 positives per draw
    n_negatives: np.ndarray  # (N,) int32 negatives per draw
    params: dict = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class _Chunk:
    cid: int
    kind: str  # "complete" | "block" | "pool"
    clusters: np.ndarray  # cluster ids, ascending (one id for "pool")
    size: int  # cluster size ("complete"), padded block size ("block"), 0 ("pool")
    p_eff: int
    m_eff: int
    pool: int  # negative pool size R
    lo: int = 0  # "pool": sorted-position range inside the cluster
    hi: int = 0


@dataclass
class _Plan:
    order: np.ndarray  # sorted position → original row
    pos_of_row: np.ndarray  # original row → sorted position
    lab: np.ndarray  # cluster per sorted position
    counts: np.ndarray
    starts: np.ndarray
    p: int
    m: int
    chunks: list[_Chunk]

    @property
    def n(self) -> int:
        return len(self.order)


def _pad(n: int) -> int:
    """Padded block size: multiples of 8 up to 64, then at most 12.5 % above n."""
    if n <= 64:
        return -(-n // 8) * 8
    step = 1 << (int(n).bit_length() - 4)
    return -(-n // step) * step


def _validate(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    if embeddings.ndim != 2:
        raise UserInputError(f"embeddings must be a 2-D array (N×d), got shape "
                             f"{tuple(embeddings.shape)}")
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != embeddings.shape[0]:
        raise UserInputError(f"labels must have one entry per embedding row: {len(labels)} labels "
                             f"for {embeddings.shape[0]} rows")
    if len(labels) and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0):
        raise UserInputError("labels must be non-negative integer cluster indices")
    labels = labels.astype(np.int64, copy=False)
    counts = np.bincount(labels) if len(labels) else np.zeros(0, np.int64)
    if np.count_nonzero(counts) < 2:
        raise UserInputError("only one cluster in the data: SDD negatives impossible "
                             "(negatives come from other clusters)",
                             fix="score a dataset with at least two clusters")
    return labels


def build_plan(labels: np.ndarray, positives: int = 24, negatives: int = 24) -> _Plan:
    """The deterministic chunk plan (depends only on the labels, p_max and m)."""
    n_img = len(labels)
    order = np.argsort(labels, kind="stable")
    pos_of_row = np.empty_like(order)
    pos_of_row[order] = np.arange(n_img)
    lab = labels[order]
    counts = np.bincount(labels)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    p, m = int(positives), int(negatives)
    block_max = max(BLOCK_MAX, 4 * (p + 1))
    r_target = (REPS_PER_POOL + 1) * m
    groups: dict[tuple, list[int]] = {}
    chunks: list[_Chunk] = []
    for c in np.flatnonzero(counts >= 2):
        n = int(counts[c])
        m_eff = min(m, n_img - n)
        if n <= p + 1:
            groups.setdefault(("complete", n, m_eff), []).append(int(c))
        elif n <= block_max:
            groups.setdefault(("block", _pad(n), m_eff), []).append(int(c))
    for (kind, size, m_eff), cl in sorted(groups.items()):
        cur: list[int] = []
        for c in cl:
            if cur and (len(cur) + 1) * size > CHUNK_ROWS:
                chunks.append(_make_chunk(len(chunks), kind, cur, size, p, m_eff, counts,
                                          n_img, r_target))
                cur = []
            cur.append(c)
        if cur:
            chunks.append(_make_chunk(len(chunks), kind, cur, size, p, m_eff, counts, n_img,
                                      r_target))
    for c in np.flatnonzero(counts > block_max):
        n = int(counts[c])
        m_eff = min(m, n_img - n)
        pool = min(r_target, n_img - n)
        for lo in range(0, n, CHUNK_ROWS):
            chunks.append(_Chunk(len(chunks), "pool", np.array([c]), 0, p, m_eff, pool,
                                 int(starts[c]) + lo, int(starts[c]) + min(n, lo + CHUNK_ROWS)))
    return _Plan(order, pos_of_row, lab, counts, starts, p, m, chunks)


def _make_chunk(cid, kind, cl, size, p, m_eff, counts, n_img, r_target) -> _Chunk:
    cl_arr = np.asarray(cl, dtype=np.int64)
    nmax = int(counts[cl_arr].max())
    p_eff = size - 1 if kind == "complete" else p
    # R ≥ m + n_c guarantees m valid (other-cluster) entries however many own members it holds
    pool = min(n_img, max(r_target, m_eff + nmax))
    return _Chunk(cid, kind, cl_arr, size, p_eff, m_eff, pool)


class _Sampler:
    """Runs the draw plan for one chunk; shared by the full run and `similarity_sets`.

    Similarities are laid out column-wise, (set size, rows, repetitions), so the sorting networks
    and the W1 sums run over long contiguous vectors.
    """

    def __init__(self, emb: np.ndarray, plan: _Plan, seed: int, device: torch.device):
        self.emb, self.plan, self.seed, self.dev = emb, plan, int(seed), device

    def _rng(self, stream: int, cid: int, k: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, stream, cid, k])

    def rows(self, ch: _Chunk) -> np.ndarray:
        """Sorted positions of the chunk's rows (clusters back to back)."""
        pl = self.plan
        if ch.kind == "pool":
            return np.arange(ch.lo, ch.hi)
        return np.concatenate([np.arange(pl.starts[c], pl.starts[c] + pl.counts[c])
                               for c in ch.clusters])

    def _load(self, sorted_pos: np.ndarray) -> torch.Tensor:
        return load_normalized(self.emb, self.plan.order[sorted_pos], self.dev)

    def _t(self, a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(self.dev)

    @staticmethod
    def _starts(u: np.ndarray, js: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Window start of repetition j inside a pool of v entries: ⌊frac(u + j/G)·v⌋ (B, J)."""
        frac = np.mod(u[:, None] + js[None, :] / REPS_PER_POOL, 1.0)
        return np.minimum((frac * v[:, None]).astype(np.int64), v[:, None] - 1)

    # ---- negatives -------------------------------------------------------------------------
    def _negatives(self, ch: _Chunk, rows: np.ndarray, x: torch.Tensor, grp: int,
                   js: np.ndarray, keep: int | None = None
                   ) -> tuple[torch.Tensor, np.ndarray | None, np.ndarray]:
        """Negative similarities (m, B, J); with `keep`, that row's pool slots (m, J); the pool
        (sorted positions)."""
        pl, dev = self.plan, self.dev
        rng = self._rng(_STREAM_NEG, ch.cid, grp)
        b, r, m = len(rows), ch.pool, ch.m_eff
        if ch.kind == "pool":  # draw from the other clusters directly: nothing to mask
            c = int(ch.clusters[0])
            draw = rng.choice(pl.n - int(pl.counts[c]), r, replace=False)
            draw = draw + np.where(draw >= pl.starts[c], pl.counts[c], 0)
        else:
            draw = rng.choice(pl.n, r, replace=False)
        u = rng.random(b)
        sims = x @ self._load(draw).T  # (B, R): the one GEMM of the negatives
        # pool entries of a row's own cluster are invalid; find the (few) clusters hit
        v = np.full(b, r, dtype=np.int64)
        tables: list[np.ndarray] = []
        hit_row = np.full(b, -1, dtype=np.int64)
        if ch.kind != "pool":
            pool_cl = pl.lab[draw]
            hit = np.intersect1d(pool_cl, ch.clusters)
            if len(hit):
                row_cl = pl.lab[rows]
                for h, c in enumerate(hit):
                    valid = np.flatnonzero(pool_cl != c)
                    tables.append(np.pad(valid, (0, r - len(valid))))
                    sel = row_cl == c
                    v[sel] = len(valid)
                    hit_row[sel] = h
        start = self._starts(u, js, v)  # (B, J) window start, in valid-rank units
        # Common case: no masking. Append the first m pool columns so a window never wraps; then
        # every similarity is one flat gather at (row, start + t).
        ext = torch.cat([sims, sims[:, :m]], dim=1)
        width = r + m
        base = self._t(start + np.arange(b)[:, None] * width)
        vals = ext.reshape(-1)[base[None] + torch.arange(m, device=dev)[:, None, None]]
        slots = None
        if tables:  # rows whose cluster the pool hit: map valid ranks to pool slots
            sel = np.flatnonzero(hit_row >= 0)
            rank = start[sel][None] + np.arange(m)[:, None, None]  # (m, S, J)
            vs = v[sel][None, :, None]
            rank = np.where(rank >= vs, rank - vs, rank)
            slots = np.stack(tables)[hit_row[sel][None, :, None], rank]
            vals[:, self._t(sel)] = ext.reshape(-1)[self._t(slots + sel[None, :, None] * width)]
        if keep is None:
            return vals, None, draw
        # the kept row's pool slots, for the GUI's member lists
        if slots is not None and hit_row[keep] >= 0:
            kslots = slots[:, int(np.flatnonzero(sel == keep)[0]), :]
        else:
            kslots = np.mod(start[keep][None, :] + np.arange(m)[:, None], r)
        return vals, kslots, draw

    # ---- positives -------------------------------------------------------------------------
    def _layout(self, ch: _Chunk) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per row of a multi-cluster chunk: local cluster, position in cluster, cluster size;
        and each local cluster's first row."""
        sizes = self.plan.counts[ch.clusters]
        g = np.repeat(np.arange(len(sizes)), sizes)
        offs = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        q = np.arange(int(sizes.sum())) - offs[g]
        return g, q, sizes[g], offs

    def _complete_positives(self, ch: _Chunk, x: torch.Tensor) -> tuple[torch.Tensor,
                                                                          torch.Tensor]:
        """Every other member: sims (n-1, B) and the members' chunk-local rows (n-1, B)."""
        n, gc, dev = ch.size, len(ch.clusters), x.device
        xb = x.view(gc, n, -1)
        blk = torch.bmm(xb, xb.transpose(1, 2))  # (G, n, n)
        # column t of row q is member t + (t >= q): every other member once
        t = torch.arange(n - 1, device=dev)[:, None]
        q = torch.arange(n, device=dev)[None, :]
        member = t + (t >= q).long()  # (n-1, n)
        vals = blk.permute(2, 0, 1).reshape(n, gc * n)  # [col, g*n + q]
        idx = member.repeat(1, gc)  # (n-1, G*n)
        base = (torch.arange(gc, device=dev) * n).repeat_interleave(n)
        return vals.gather(0, idx), idx + base[None, :]

    def _block_sims(self, ch: _Chunk, x: torch.Tensor) -> torch.Tensor:
        g, q, _, _ = self._layout(ch)
        s = ch.size
        xp = torch.zeros(len(ch.clusters) * s, x.shape[1], device=x.device, dtype=x.dtype)
        xp[self._t(g * s + q)] = x
        xp = xp.view(len(ch.clusters), s, -1)
        return torch.bmm(xp, xp.transpose(1, 2))  # (G, S, S)

    @staticmethod
    def _drop_self(vals: torch.Tensor, is_self: torch.Tensor, p: int) -> torch.Tensor:
        """Windows of p+1 members: drop the image itself if present, else the last (→ +inf)."""
        no_self = ~is_self.any(dim=0)
        is_self[p] |= no_self
        return vals.masked_fill_(is_self, float("inf"))

    def _block_positives(self, ch: _Chunk, blk: torch.Tensor, reps: np.ndarray
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        """Positives of repetitions `reps`: sims (p+1, B, J) with the dropped one at +inf, and
        the members' chunk-local rows."""
        dev = blk.device
        g, q, n_row, offs = self._layout(ch)
        s, p, gc = ch.size, ch.p_eff, len(ch.clusters)
        sizes = self.plan.counts[ch.clusters]
        pad = np.arange(s)[None, :] >= sizes[:, None]
        # each permutation is stored followed by its own first p+1 entries, so a window of p+1
        # starting anywhere in the first n_g slots never wraps
        width = s + p + 1
        t = np.arange(width)[None, :]
        wrap = np.where(t < sizes[:, None], t, t - sizes[:, None])
        wrap = np.minimum(wrap, s - 1)
        perms, off = [], []
        for k in reps:
            rng = self._rng(_STREAM_POS, ch.cid, int(k))
            keys = rng.random((gc, s))
            keys[pad] = 2.0  # padding sorts last
            perm = np.argsort(keys, axis=1)  # first n_g: a uniform permutation of cluster g
            perms.append(np.take_along_axis(perm, wrap, axis=1))
            off.append(np.minimum((rng.random(len(g)) * n_row).astype(np.int64), n_row - 1))
        perm_ext = self._t(np.stack(perms).reshape(-1))  # (J*G*width,)
        start = (np.arange(len(reps))[None, :] * gc + g[:, None]) * width + np.stack(off, axis=1)
        member = perm_ext[self._t(start)[None] + torch.arange(p + 1, device=dev)[:, None, None]]
        vals = blk.reshape(-1)[self._t((g * s + q) * s)[None, :, None] + member]
        vals = self._drop_self(vals, member == self._t(q)[None, :, None], p)
        return vals, member + self._t(offs[g])[None, :, None]

    def _pool_positives(self, ch: _Chunk, rows: np.ndarray, x: torch.Tensor, grp: int,
                        js: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Positives for a very large cluster: windows over a drawn pool of members; returns
        sims (p+1, B, J) with the dropped one at +inf and the members' sorted positions."""
        pl, dev, p = self.plan, self.dev, ch.p_eff
        c = int(ch.clusters[0])
        n = int(pl.counts[c])
        rng = self._rng(_STREAM_POSPOOL, ch.cid, grp)
        rp = min(n, (REPS_PER_POOL + 1) * (p + 1))
        pool = rng.choice(n, rp, replace=False)  # member offsets inside the cluster
        u = rng.random(len(rows))
        sims = x @ self._load(pl.starts[c] + pool).T  # (B, Rp)
        start = self._t(self._starts(u, js, np.full(len(rows), rp)))
        win = start[None] + torch.arange(p + 1, device=dev)[:, None, None]
        win = torch.where(win >= rp, win - rp, win)  # (p+1, B, J) pool slots
        slot_of = np.full(n, -1, dtype=np.int64)
        slot_of[pool] = np.arange(rp)
        self_slot = self._t(slot_of[rows - pl.starts[c]])  # -1: the row is not in the pool
        vals = sims.reshape(-1)[win + (torch.arange(len(rows), device=dev) * rp)[None, :, None]]
        vals = self._drop_self(vals, win == self_slot[None, :, None], p)
        return vals, self._t(pl.starts[c] + pool)[win]

    # ---- one chunk -------------------------------------------------------------------------
    def run_chunk(self, ch: _Chunk, reps: list[int], keep: int | None = None):
        """Raw W1 and sign (B, len(reps)) for the chunk's rows. With `keep` (a chunk-local row)
        also that row's ascending positive/negative sims and their sorted positions, per rep."""
        rows = self.rows(ch)
        x = self._load(rows)
        dev, b, p = x.device, len(rows), ch.p_eff
        out_w = torch.empty(b, len(reps), dtype=torch.float32, device=dev)
        out_s = torch.empty(b, len(reps), dtype=torch.float32, device=dev)
        rows_t = self._t(rows)
        kept = []
        complete = blk = None
        if ch.kind == "complete":
            cv, cid = self._complete_positives(ch, x)
            if keep is not None:
                keep_complete = (cv[:, keep].clone(), rows_t[cid[:, keep]])
            complete = sort_columns_(cv)  # sorted once, shared by every repetition
        elif ch.kind == "block":
            blk = self._block_sims(ch, x)
        reps_arr = np.asarray(reps)
        for grp in np.unique(reps_arr // REPS_PER_POOL):
            cols = np.flatnonzero(reps_arr // REPS_PER_POOL == grp)
            js = reps_arr[cols] % REPS_PER_POOL
            nv, kslots, draw = self._negatives(ch, rows, x, int(grp), js, keep)
            if complete is not None:
                pv, pid = None, None
            elif blk is not None:
                pv, pid = self._block_positives(ch, blk, reps_arr[cols])
                pid = rows_t[pid]
            else:
                pv, pid = self._pool_positives(ch, rows, x, int(grp), js)
            if keep is not None:
                for jj, col in enumerate(cols):
                    if complete is not None:
                        kv, ki = keep_complete
                    else:
                        fin = torch.isfinite(pv[:, keep, jj])
                        kv, ki = pv[:, keep, jj][fin], pid[:, keep, jj][fin]
                    o = torch.argsort(kv, stable=True)
                    nk = nv[:, keep, jj]
                    no = torch.argsort(nk, stable=True)
                    nid = self._t(draw[kslots[:, jj]])
                    kept.append((int(col), kv[o], ki[o], nk[no], nid[no]))
            ns = sort_columns_(nv.reshape(nv.shape[0], -1)).view_as(nv)
            if complete is not None:
                ps = complete[:, :, None]
            else:
                ps = sort_columns_(pv.reshape(p + 1, -1))[:p].view(p, b, len(js))
            ccols = self._t(cols)
            out_w[:, ccols] = w1_sorted_cols(ps, ns)
            out_s[:, ccols] = torch.sign(ps.mean(dim=0) - ns.mean(dim=0))
        return rows, out_w, out_s, kept


NORMALISE_ROWS = 65536  # rows per block of `_normalise`


def _normalise(raw: np.ndarray, sign: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`sdd`: per-repetition min-max of raw W1 to [0, 100] (NaN rows ignored), mean over K.
    `sdd_signed`: per repetition 100·sign·W1 / max W1, mean over K."""
    if np.isnan(raw).all():
        nan = np.full(raw.shape[0], np.nan, dtype=np.float32)
        return nan, nan.copy()
    lo = np.nanmin(raw, axis=0)
    hi = np.nanmax(raw, axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    top = np.where(hi > 0, hi, 1.0)
    n = raw.shape[0]
    sdd = np.empty(n, dtype=np.float32)
    signed = np.empty(n, dtype=np.float32)
    # in row blocks: every row's values are its own (the same numbers as one whole-array
    # expression), without N×K temporaries — at MS1MV2 scale 0.3 GiB each
    for a in range(0, n, NORMALISE_ROWS):
        r = raw[a:a + NORMALISE_ROWS]
        sdd[a:a + NORMALISE_ROWS] = ((r - lo) / span * 100.0).mean(axis=1)
        signed[a:a + NORMALISE_ROWS] = (r * sign[a:a + NORMALISE_ROWS] / top * 100.0).mean(
            axis=1)
    return sdd, signed


def sdd_scores(embeddings: np.ndarray, labels: np.ndarray, *, repeats: int = 12,
               negatives: int = 24, positives: int = 24, seed: int = 0, exact: bool = False,
               device: str | torch.device = "auto", progress: ProgressCallback | None = None,
               cancel: CancelToken | None = None) -> SDDResult:
    """SDD-FIQA scores for every row of `embeddings` (N×d, may be an np.memmap).

    `labels` holds the cluster index (0..C-1) of each row. Singletons get NaN.
    """
    t0 = time.perf_counter()
    labels = _validate(embeddings, labels)
    if repeats < 1 or negatives < 1 or positives < 1:
        raise UserInputError("repeats, negatives and positives must be at least 1")
    dev = resolve_device(device)
    progress = progress or no_progress
    if exact:
        raw, sign, npos, nneg = _exact_raw(embeddings, labels, seed, dev, progress, cancel)
    else:
        raw, sign, npos, nneg = _sampled_raw(embeddings, labels, repeats, negatives, positives,
                                             seed, dev, progress, cancel)
    return sdd_from_raw(raw, sign, npos, nneg, labels, repeats=repeats, negatives=negatives,
                        positives=positives, seed=seed, exact=exact, device=str(dev),
                        seconds=time.perf_counter() - t0)


def sdd_from_raw(raw: np.ndarray, sign: np.ndarray, npos: np.ndarray, nneg: np.ndarray,
                 labels: np.ndarray, *, repeats: int, negatives: int, positives: int, seed: int,
                 exact: bool, device: str, seconds: float = 0.0) -> SDDResult:
    """The result from every row's raw W1 and sign per repetition: the per-repetition min-max
    runs over the whole dataset, so a sharded run gathers the raw values first and calls this."""
    if exact:
        sdd = raw[:, 0].astype(np.float32)
        signed = (raw[:, 0] * sign[:, 0]).astype(np.float32)
    else:
        sdd, signed = _normalise(raw, sign)
    counts = np.bincount(labels)
    params = {"method": "sdd", "repeats": 1 if exact else int(repeats),
              "negatives": int(negatives), "positives": int(positives), "seed": int(seed),
              "exact": bool(exact), "device": device}
    return SDDResult(sdd, signed, raw, sign.astype(np.int8, copy=False), counts[labels] < 2,
                     npos, nneg, params, seconds)


@dataclass
class RawChunk:
    """One chunk's raw W1 and signs (rows × repetitions) and its original row numbers."""

    rows: np.ndarray
    raw: np.ndarray
    sign: np.ndarray
    n_positives: int
    n_negatives: int


def sampled_chunks(embeddings: np.ndarray, labels: np.ndarray, chunk_ids=None, *,
                   repeats: int = 12, negatives: int = 24, positives: int = 24, seed: int = 0,
                   device: str | torch.device = "cpu", cancel: CancelToken | None = None,
                   on_chunk=None) -> list[RawChunk]:
    """Raw sampled W1 of the plan's chunks `chunk_ids` (default: all), in the plan's order.

    The plan depends only on the labels, p_max and m, and a chunk's draws only on
    (seed, stream, chunk, repetition), so any split of the chunks over processes or machines
    gives every image exactly the draws of a one-process run. `on_chunk(RawChunk)` is called
    as each chunk finishes (progress)."""
    dev = resolve_device(device)
    plan = build_plan(np.asarray(labels, dtype=np.int64), positives, negatives)
    sampler = _Sampler(embeddings, plan, seed, dev)
    chunks = plan.chunks if chunk_ids is None else [plan.chunks[int(c)] for c in chunk_ids]
    reps = list(range(repeats))
    out: list[RawChunk] = []

    def store(ch: _Chunk, res) -> None:
        rows, w, s, _ = res
        item = RawChunk(plan.order[rows], w.cpu().numpy(), s.cpu().numpy(), ch.p_eff, ch.m_eff)
        out.append(item)
        if on_chunk is not None:
            on_chunk(item)

    run_chunks(lambda ch: sampler.run_chunk(ch, reps), chunks, dev, store, cancel)
    return out


def chunk_sizes(labels: np.ndarray, positives: int = 24, negatives: int = 24) -> np.ndarray:
    """Rows per chunk of the draw plan (for splitting the chunks into balanced shards)."""
    plan = build_plan(np.asarray(labels, dtype=np.int64), positives, negatives)
    sampler = _Sampler(None, plan, 0, torch.device("cpu"))
    return np.array([len(sampler.rows(ch)) for ch in plan.chunks], dtype=np.int64)


def _sampled_raw(emb, labels, repeats, negatives, positives, seed, dev, progress, cancel):
    n = len(labels)
    raw = np.full((n, repeats), np.nan, dtype=np.float32)
    sign = np.zeros((n, repeats), dtype=np.int8)  # −1, 0, +1
    npos = np.zeros(n, dtype=np.int32)
    nneg = np.zeros(n, dtype=np.int32)
    done = 0
    progress(0, n, "SDD")

    def store(item: RawChunk) -> None:
        nonlocal done
        put_chunk(item, raw, sign, npos, nneg)
        done += len(item.rows)
        progress(done, n, "SDD")

    sampled_chunks(emb, labels, repeats=repeats, negatives=negatives, positives=positives,
                   seed=seed, device=dev, cancel=cancel, on_chunk=store)
    progress(n, n, "SDD")
    return raw, sign, npos, nneg


def put_chunk(item: RawChunk, raw: np.ndarray, sign: np.ndarray, npos: np.ndarray,
              nneg: np.ndarray) -> None:
    """Write one chunk's values into the dataset-wide arrays."""
    raw[item.rows] = item.raw
    sign[item.rows] = item.sign
    npos[item.rows] = item.n_positives
    nneg[item.rows] = item.n_negatives


def _exact_negatives(labels: np.ndarray, seed: int) -> np.ndarray | None:
    """The fixed negative pool of exact mode (None: every image)."""
    if len(labels) <= EXACT_ALL_MAX:
        return None
    rng = np.random.default_rng([int(seed), _STREAM_EXACT])
    return np.sort(rng.choice(len(labels), EXACT_POOL, replace=False))


def _exact_cluster(emb, labels, c: int, members: np.ndarray, neg_rows: np.ndarray,
                   neg_x: torch.Tensor, dev, keep: int | None = None):
    """Exact W1 for every member of cluster c (original rows `members`)."""
    own = labels[neg_rows] == c
    nx = neg_x[torch.from_numpy(~own).to(dev)] if own.any() else neg_x
    xc = load_normalized(emb, members, dev)
    n = len(members)
    step = max(1, min(n, 4_000_000 // max(1, n + nx.shape[0])))
    ws, ss, kept = [], [], None
    off = ~torch.eye(n, dtype=torch.bool, device=dev)
    for a in range(0, n, step):
        xr = xc[a:a + step]
        pv = (xr @ xc.T)[off[a:a + step]].reshape(len(xr), n - 1)
        nv = xr @ nx.T
        ps, ns = torch.sort(pv, dim=1).values, torch.sort(nv, dim=1).values
        ws.append(w1_sorted(ps, ns))
        ss.append(torch.sign(pv.mean(dim=1) - nv.mean(dim=1)))
        if keep is not None and a <= keep < a + len(xr):
            kept = (ps[keep - a], ns[keep - a])
    return torch.cat(ws), torch.cat(ss), nx.shape[0], kept


def _exact_raw(emb, labels, seed, dev, progress, cancel):
    n = len(labels)
    counts = np.bincount(labels)
    pool = _exact_negatives(labels, seed)
    neg_rows = np.arange(n) if pool is None else pool
    raw = np.full((n, 1), np.nan, dtype=np.float32)
    sign = np.zeros((n, 1), dtype=np.int8)
    npos = np.maximum(counts[labels] - 1, 0).astype(np.int32)
    nneg = np.zeros(n, dtype=np.int32)
    order = np.argsort(labels, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)])
    done = 0
    progress(0, n, "SDD (exact)")
    with torch.inference_mode():
        neg_x = load_normalized(emb, neg_rows, dev)
        for c in np.flatnonzero(counts >= 2):
            if cancel is not None:
                cancel.check()
            members = np.sort(order[starts[c]:starts[c + 1]])
            w, s, m, _ = _exact_cluster(emb, labels, int(c), members, neg_rows, neg_x, dev)
            raw[members, 0] = w.cpu().numpy()
            sign[members, 0] = s.cpu().numpy()
            nneg[members] = m
            done += len(members)
            progress(done, n, "SDD (exact)")
    progress(n, n, "SDD (exact)")
    return raw, sign, npos, nneg


def similarity_sets(embeddings: np.ndarray, labels: np.ndarray, index: int, *, seed: int = 0,
                    repeat: int = 0, positives: int = 24, negatives: int = 24,
                    exact: bool = False, device: str | torch.device = "cpu",
                    return_members: bool = False) -> tuple[np.ndarray, ...]:
    """The positive and negative cosine sets (ascending) that image `index` was scored with in
    repetition `repeat` of a run with the same seed, positives and negatives — the GUI's
    histograms. Singletons return an empty positive set. With `return_members=True` also the
    original row indices of the drawn images, in the same order as the values.
    """
    labels = _validate(embeddings, labels)
    dev = resolve_device(device)
    index = int(index)
    if not 0 <= index < len(labels):
        raise UserInputError(f"image index {index} out of range 0..{len(labels) - 1}")
    counts = np.bincount(labels)
    c = int(labels[index])
    with torch.inference_mode():
        if exact:
            pool = _exact_negatives(labels, seed)
            neg_rows = np.arange(len(labels)) if pool is None else pool
            neg_keep = neg_rows[labels[neg_rows] != c]
            if counts[c] < 2:
                pos, neg, pm = np.zeros(0, np.float32), None, np.zeros(0, np.int64)
                x = load_normalized(embeddings, [index], dev)
                nv = (x @ load_normalized(embeddings, neg_keep, dev).T)[0]
                neg_s, neg_o = torch.sort(nv)
                neg, nm = neg_s.cpu().numpy(), neg_keep[neg_o.cpu().numpy()]
                return (pos, neg, pm, nm) if return_members else (pos, neg)
            members = np.sort(np.flatnonzero(labels == c))
            neg_x = load_normalized(embeddings, neg_rows, dev)
            keep = int(np.searchsorted(members, index))
            _, _, _, (ps, ns) = _exact_cluster(embeddings, labels, c, members, neg_rows, neg_x,
                                               dev, keep=keep)
            pos, neg = ps.cpu().numpy(), ns.cpu().numpy()
            if not return_members:
                return pos, neg
            x = load_normalized(embeddings, [index], dev)
            others = members[members != index]
            pm = others[torch.argsort((x @ load_normalized(embeddings, others, dev).T)[0])
                        .cpu().numpy()]
            nm = neg_keep[torch.argsort((x @ load_normalized(embeddings, neg_keep, dev).T)[0])
                          .cpu().numpy()]
            return pos, neg, pm, nm
        plan = build_plan(labels, positives, negatives)
        sampler = _Sampler(embeddings, plan, seed, dev)
        spos = int(plan.pos_of_row[index])
        if counts[c] < 2:  # singleton: never scored; show what its negatives would look like
            m_eff = min(negatives, len(labels) - 1)
            ch = _Chunk(_SINGLETON_CID + spos, "pool", np.array([c]), 0, 0, m_eff,
                        min(len(labels) - 1, (REPS_PER_POOL + 1) * negatives), spos, spos + 1)
            rows = np.array([spos])
            nv, kslots, draw = sampler._negatives(ch, rows, sampler._load(rows),
                                                  repeat // REPS_PER_POOL,
                                                  np.array([repeat % REPS_PER_POOL]), keep=0)
            ns, no = torch.sort(nv[:, 0, 0])
            nm = plan.order[draw[kslots[:, 0][no.cpu().numpy()]]]
            pos, neg = np.zeros(0, np.float32), ns.cpu().numpy()
            return (pos, neg, np.zeros(0, np.int64), nm) if return_members else (pos, neg)
        ch = next(h for h in plan.chunks
                  if (h.lo <= spos < h.hi if h.kind == "pool" else c in h.clusters))
        rows = sampler.rows(ch)
        local = int(np.flatnonzero(rows == spos)[0])
        _, _, _, kept = sampler.run_chunk(ch, [int(repeat)], keep=local)
        _, pv, pid, nv, nid = kept[0]
        pos, neg = pv.cpu().numpy(), nv.cpu().numpy()
        if not return_members:
            return pos, neg
        return pos, neg, plan.order[pid.cpu().numpy()], plan.order[nid.cpu().numpy()]

__all__ = ["SDDResult", "sdd_scores", "similarity_sets", "build_plan", "w1"]

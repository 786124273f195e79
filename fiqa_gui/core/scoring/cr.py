"""CR-FIQA certainty ratio (SPEC §2): `CR = CCS / (NNCCS + 1 + 1e-9)` (paper form).

`CCS_i = cos(x_i, w_{y_i})`, `NNCCS_i = max_{j ≠ y_i} cos(x_i, w_j)`. Centres are either the rows of
the face model's classification head (`load_head`) or, by default, the L2-normalised class means
of the normalised embeddings, with the image itself left out of its own centre (leave-one-out;
singletons get NaN). Other clusters' centres are their full means.

NNCCS is an exact maximum-inner-product search over all C centres, done as chunked GEMMs
(`CentreIndex`). Where bfloat16 GEMM is native (AVX512-BF16 / AMX CPUs, Ampere+ GPUs) the GEMM
screens in bfloat16 and every centre that could beat the screened winner under a proven error
bound is re-scored in float32: the maximum is still exact, and the reported value is always a
float32 re-score, so the output does not depend on which path ran.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.progress import CancelToken, ProgressCallback, no_progress
from fiqa_gui.core.scoring.device import (
    bf16_matmul_is_fast,
    default_chunk_rows,
    load_normalized,
    resolve_device,
    run_chunks,
)
from fiqa_gui.core.scoring.nnccs_search import (
    IVFCentreIndex,
    SearchPlan,
    plan,
    sample_rows,
    without_sample,
)

CR_EPS = 1e-9
_SCORES_PER_CHUNK = 1 << 25  # rows × centres per screening GEMM (64 MiB in bfloat16)
CENTRE_BLOCK = 8192  # centres per block where a C×d temporary is avoided
IVF_CHUNK_ROWS = 16384  # rows per CR chunk through the index (~64 rows per list GEMM at 1 k lists)


@dataclass
class CRResult:
    """Per-row CR outputs in the caller's row order."""

    cr: np.ndarray  # (N,) float32
    ccs: np.ndarray  # (N,) float32
    nnccs: np.ndarray  # (N,) float32
    nn_cluster: np.ndarray  # (N,) int64, cluster index of the nearest other centre (-1: none)
    singleton: np.ndarray  # (N,) bool: leave-one-out centre undefined → NaN
    centres: str  # "loo" or "head"
    params: dict = field(default_factory=dict)
    seconds: float = 0.0


# ---- classifier head -------------------------------------------------------------------------
def _read_head_file(path: Path) -> tuple[np.ndarray, list[str] | None]:
    """The raw weight matrix and optional class names stored in a head file."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False), None
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                if "weight" not in z.files:
                    raise UserInputError(f"no 'weight' array in the .npz (found: "
                                         f"{', '.join(z.files) or 'nothing'})", file=path,
                                         fix="save the head with np.savez(path, weight=W, "
                                             "labels=names)")
                names = [str(s) for s in z["labels"]] if "labels" in z.files else None
                return np.asarray(z["weight"]), names
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except UserInputError:
        raise
    except Exception as exc:  # unreadable or unsafe pickle
        raise UserInputError(f"cannot read the classifier head: {exc}", file=path,
                             fix="give a .npy / .npz array or a torch file holding a tensor or "
                                 "{'weight': tensor, 'labels': [names]}") from None
    if isinstance(obj, torch.Tensor):
        return obj.detach().float().numpy(), None
    if isinstance(obj, dict) and isinstance(obj.get("weight"), torch.Tensor):
        names = obj.get("labels")
        return obj["weight"].detach().float().numpy(), (None if names is None
                                                         else [str(s) for s in names])
    kinds = sorted(map(str, obj)) if isinstance(obj, dict) else [type(obj).__name__]
    raise UserInputError(f"the torch file holds no head weight tensor (found: "
                         f"{', '.join(kinds[:8])})", file=path,
                         fix="save torch.save({'weight': W, 'labels': names}, path) or the tensor")


def load_head(path: str | Path, cluster_names: list[str], dim: int) -> np.ndarray:
    """Class centres from a classification head file, aligned to the cluster index (C×d,
    float32, rows L2-normalised).

    Accepts `.npy` (C×d or d×C), `.npz` (`weight`, optional `labels`) or a torch file (loaded
    with `weights_only=True`) holding a tensor or `{"weight": tensor, "labels": [names]}`. With
    labels, each cluster name is looked up in them (extra head classes are ignored); without,
    row i belongs to cluster i (clusters in sorted-name order, like ImageFolder). A square C×C
    matrix with C = d is read as C×d.
    """
    path = Path(path)
    if not path.is_file():
        raise UserInputError("classifier head file not found", file=path)
    w, names = _read_head_file(path)
    if w.ndim != 2:
        raise UserInputError(f"the classifier head must be 2-D (C×d or d×C), got shape "
                             f"{tuple(w.shape)}", file=path)
    n_rows = len(names) if names is not None else len(cluster_names)
    if w.shape[1] == dim and w.shape[0] == n_rows:
        pass
    elif w.shape[0] == dim and w.shape[1] == n_rows:
        w = w.T
    else:
        raise UserInputError(
            f"classifier head shape {tuple(w.shape)} does not match the data: expected "
            f"({n_rows}, {dim}) or ({dim}, {n_rows}) for {n_rows} "
            f"{'labelled classes' if names is not None else 'clusters'} and {dim}-d embeddings",
            file=path,
            fix="give the head of the model that produced these embeddings, with a 'labels' "
                "list when its classes are not exactly the clusters in sorted order")
    if names is not None:
        where = {n: i for i, n in enumerate(names)}
        missing = [c for c in cluster_names if c not in where]
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more"
                                              if len(missing) > 5 else "")
            raise UserInputError(f"{len(missing)} cluster(s) have no row in the head's labels: "
                                 f"{shown}", file=path,
                                 fix="use the head's class names as cluster names")
        w = w[[where[c] for c in cluster_names]]
    w = np.ascontiguousarray(w, dtype=np.float32)
    if not np.isfinite(w).all():
        raise UserInputError("classifier head has NaN or infinite values", file=path)
    norms = np.linalg.norm(w, axis=1, keepdims=True)
    return w / np.maximum(norms, 1e-12)


# ---- exact nearest other centre ----------------------------------------------------------------
class CentreIndex:
    """Exact `max_{j ≠ own_i} x_i·c_j` over unit centres `c` (C×d), by chunked GEMMs.

    Where bfloat16 GEMM is native the GEMM screens in bfloat16 and a float32 re-score settles
    the maximum: every centre whose screened score is within 2·eps of the row's screened best is
    re-scored, eps a proven per-row bound on the screening error (Cauchy–Schwarz on the rounding
    residuals of x and c, float32 accumulation, bfloat16 output rounding). Screened scores are
    reduced per block of `BLOCK` centres first, so the candidate search touches only the blocks
    whose maximum passes the threshold.
    """

    BLOCK = 16
    SLAB = 2048  # centres per GEMM slab (a multiple of BLOCK)

    def __init__(self, centres: torch.Tensor, invalid: torch.Tensor | None = None,
                 screen_dtype: torch.dtype | None = None):
        self.centres = centres.float().contiguous()
        c, d = self.centres.shape
        self.n, self.dim = c, d
        if screen_dtype is None:
            fast = bf16_matmul_is_fast(str(centres.device))
            screen_dtype = torch.bfloat16 if fast else torch.float32
        self.dtype = screen_dtype
        self.n_blocks = -(-c // self.BLOCK)
        pad = self.n_blocks * self.BLOCK - c
        screen = self.centres.to(screen_dtype)
        self.screen = torch.cat([screen, screen.new_zeros(pad, d)]) if pad else screen
        self.dead = torch.arange(c, c + pad, device=centres.device)  # padding columns
        if invalid is not None and len(invalid):
            self.dead = torch.cat([invalid.to(centres.device), self.dead])
        # max |c - c̃| and max |c̃|, in blocks of centres (no C×d float32 temporaries: each
        # row's norm is its own, so the maxima are those of one whole-matrix expression)
        c_err = c_norm = 0.0
        for a in range(0, c, CENTRE_BLOCK):
            widened = screen[a:a + CENTRE_BLOCK].float()
            res = self.centres[a:a + CENTRE_BLOCK] - widened
            c_err = max(c_err, float(torch.linalg.vector_norm(res, dim=1).max()))
            c_norm = max(c_norm, float(torch.linalg.vector_norm(widened, dim=1).max()))
        self.c_err, self.c_norm = c_err, c_norm

    def _eps(self, xs: torch.Tensor, x: torch.Tensor, best: torch.Tensor) -> torch.Tensor:
        """Per-row bound on |screened - exact| for the scores that can matter."""
        d = self.dim
        xs_norm = torch.linalg.vector_norm(xs.float(), dim=1)
        gamma = d * 2.0 ** -24 / (1 - d * 2.0 ** -24)
        acc = gamma * xs_norm * self.c_norm
        if self.dtype == torch.float32:
            return acc + 1e-7
        x_err = torch.linalg.vector_norm(x - xs.float(), dim=1)
        inp = xs_norm * self.c_err + x_err * self.c_norm + x_err * self.c_err
        # output rounding to bfloat16 (8-bit significand): ≤ 2^-8 relative; the scores that can
        # matter (the screened and the true winner) are within 2·(inp + acc) of |best| in size
        out = 2.0 ** -8 / (1 - 2.0 ** -8) * (best.abs() + 2 * (inp + acc) + 0.01)
        return inp + acc + out + 1e-7

    def _screen_scores(self, xs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Screened scores (C padded, B) and their per-block maxima (blocks, B).

        The GEMM runs in slabs of `SLAB` centres and each slab is reduced right after it is
        written, while it is still in cache (the scores are streamed through memory once).
        """
        b, blk = xs.shape[0], self.BLOCK
        xs_t = xs.T.contiguous()
        st = torch.empty(self.n_blocks * blk, b, dtype=self.dtype, device=xs.device)
        bmax = torch.empty(self.n_blocks, b, dtype=self.dtype, device=xs.device)
        for c0 in range(0, st.shape[0], self.SLAB):
            c1 = min(st.shape[0], c0 + self.SLAB)
            torch.mm(self.screen[c0:c1], xs_t, out=st[c0:c1])
            torch.amax(st[c0:c1].view(-1, blk, b), dim=1, out=bmax[c0 // blk:c1 // blk])
        return st, bmax

    def search(self, x: torch.Tensor, own: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(max score over centres other than `own`, its centre index) for unit rows `x`."""
        dev, b, blk, nb = x.device, x.shape[0], self.BLOCK, self.n_blocks
        xs = x.to(self.dtype)
        # centres × rows, so that every reduction runs over contiguous rows of length B (these
        # vectorise even in bfloat16, where row-wise reductions do not)
        st, bmax = self._screen_scores(xs)
        sb = st.view(nb, blk, b)
        cols_b = torch.arange(b, device=dev)
        st[own, cols_b] = float("-inf")  # a row's own centre never counts ...
        bmax[own // blk, cols_b] = sb[own // blk, :, cols_b].amax(dim=1)  # ... refresh its block
        if len(self.dead):  # padding and empty clusters
            st.index_fill_(0, self.dead, float("-inf"))
            blocks = torch.unique(self.dead // blk)
            bmax[blocks] = sb[blocks].amax(dim=1)
        bmax = bmax.float()
        best = bmax.amax(dim=0)
        # the true winner j* and the screened winner j' satisfy ŝ_j* ≥ s_j* - eps ≥ s_j' - eps
        # ≥ ŝ_j' - 2·eps: every centre screened within 2·eps of the best is a candidate
        thr = best - 2 * self._eps(xs, x, best)
        cb, r = torch.nonzero(bmax >= thr[None, :], as_tuple=True)
        vals = sb[cb, :, r].float()  # (P, BLOCK): only the blocks that can hold the winner
        p_idx, off = torch.nonzero(vals >= thr[r][:, None], as_tuple=True)
        rows, cols = r[p_idx], cb[p_idx] * blk + off
        exact = (x[rows] * self.centres[cols]).sum(dim=1)  # float32 re-score
        top = torch.full((b,), float("-inf"), device=dev, dtype=exact.dtype)
        top.scatter_reduce_(0, rows, exact, reduce="amax")
        arg = torch.full((b,), -1, device=dev, dtype=torch.int64)
        win = exact == top[rows]
        arg[rows[win]] = cols[win]
        return top, arg


def nearest_other_centre(x: torch.Tensor, own: torch.Tensor, centres: torch.Tensor,
                         screen_dtype: torch.dtype | None = None,
                         invalid: torch.Tensor | None = None) -> tuple[torch.Tensor,
                                                                        torch.Tensor]:
    """Exact `max_{j ≠ own_i} x_i·c_j` and its argmax for unit rows `x` (B×d), float32."""
    return CentreIndex(centres, invalid, screen_dtype).search(x, own)


# ---- CR ------------------------------------------------------------------------------------
def class_sums(embeddings: np.ndarray, labels: np.ndarray, n_clusters: int, device: torch.device,
               progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
               ) -> torch.Tensor:
    """Per-cluster sums of the normalised embeddings (C×d, float64, on `device`), one pass.

    Accumulated on the CPU whatever the device (a streaming, memory-bound pass; CUDA's atomic
    index_add would make the sums, and so CR, vary in the last bits from run to run). Each
    chunk is summed in float32 over the clusters it holds (a cluster adds at most its own rows
    there) and the partial sums are accumulated in float64.
    """
    n, d = embeddings.shape
    cpu = torch.device("cpu")
    sums = torch.zeros(n_clusters, d, dtype=torch.float64)
    step = 65536
    for a in range(0, n, step):
        if cancel is not None:
            cancel.check()
        x = load_normalized(embeddings, np.arange(a, min(n, a + step)), cpu)
        uniq, inv = np.unique(labels[a:a + step], return_inverse=True)
        part = torch.zeros(len(uniq), d, dtype=torch.float32)
        part.index_add_(0, torch.from_numpy(inv.ravel()), x)
        sums.index_add_(0, torch.from_numpy(uniq), part.double())
        progress(min(n, a + step), n, "CR: class centres")
    return sums.to(device)


def cr_scores(embeddings: np.ndarray, labels: np.ndarray, *, n_clusters: int | None = None,
              head: np.ndarray | None = None, device: str | torch.device = "auto",
              progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
              nnccs: str = "exact") -> CRResult:
    """CR-FIQA scores for every row (embeddings N×d, may be an np.memmap; labels 0..C-1).

    `head`: C×d centres from `load_head`; without it leave-one-out class means are used.
    `nnccs`: how the nearest other centre is searched (`nnccs_search.MODES`).
    """
    t0 = time.perf_counter()
    progress = progress or no_progress
    labels = np.asarray(labels).astype(np.int64, copy=False)
    n, d = embeddings.shape
    if len(labels) != n:
        raise UserInputError(f"labels must have one entry per embedding row: {len(labels)} "
                             f"labels for {n} rows")
    c_total = int(n_clusters if n_clusters is not None else (labels.max() + 1 if n else 0))
    counts = np.bincount(labels, minlength=c_total)
    if np.count_nonzero(counts) < 2:
        raise UserInputError("only one cluster in the data: CR needs other class centres",
                             fix="score a dataset with at least two clusters")
    dev = resolve_device(device)
    with torch.inference_mode():
        centres = cr_centres(embeddings, labels, counts, head, dev, progress, cancel)
        centres = plan_search(centres, embeddings, labels, nnccs, dev)
        scorer = CRRowScorer(centres, dev)
        centres.sums = None  # the scorer holds them in float32 and |S|² (C×d float64 freed)
        if centres.search is not None:
            centres.search.index_bytes = None  # the scorer holds the index itself now
        ccs = np.empty(n, dtype=np.float32)
        nnccs = np.empty(n, dtype=np.float32)
        nn_cluster = np.empty(n, dtype=np.int64)
        step = cr_step(dev, c_total, centres.search)
        progress(0, n, "CR")
        done = 0

        def score(a: int):
            rows = np.arange(a, min(n, a + step))
            return (rows, *scorer.score(load_normalized(embeddings, rows, dev), labels[rows]))

        def store(_, out) -> None:
            nonlocal done
            rows, c, t, g = out
            ccs[rows], nnccs[rows], nn_cluster[rows] = c, t, g
            done += len(rows)
            progress(done, n, "CR")

        run_chunks(score, range(0, n, step), dev, store, cancel)
    return cr_from_parts(ccs, nnccs, nn_cluster, labels, counts, head is not None, str(dev),
                         time.perf_counter() - t0, centres.search)


@dataclass
class CRCentres:
    """What every row's CR needs: the class centres, and for leave-one-out the class sums."""

    centres: np.ndarray            # C×d float32, unit rows (or the head's rows)
    counts: np.ndarray             # C images per cluster
    sums: np.ndarray | None        # C×d float64 sums of the unit rows (None with a head)
    search: SearchPlan | None = None  # how NNCCS is searched (None: exact)


def plan_search(c: CRCentres, embeddings: np.ndarray, labels: np.ndarray, mode: str,
                device: torch.device, seed: int = 0) -> CRCentres:
    """`c` with its NNCCS search decided (`nnccs_search.plan`, on a seeded sample of rows)."""
    c.search = without_sample(mode, len(c.centres), len(labels), device)
    if c.search is not None:
        return c
    rows = sample_rows(len(labels), seed)
    x = load_normalized(embeddings, rows, device)
    # empty clusters have no centre (leave-one-out only; a head's rows are all centres)
    empty = np.flatnonzero(np.asarray(c.counts) == 0) if c.sums is not None else []
    invalid = empty if len(empty) else None
    exact = CentreIndex(torch.from_numpy(c.centres).to(device),
                        torch.from_numpy(invalid).to(device) if invalid is not None else None)
    c.search = plan(mode, c.centres, invalid, x.cpu().numpy(), labels[rows], len(labels),
                    device, exact)
    return c


def cr_centres(embeddings: np.ndarray, labels: np.ndarray, counts: np.ndarray,
               head: np.ndarray | None, device: torch.device,
               progress: ProgressCallback = no_progress,
               cancel: CancelToken | None = None) -> CRCentres:
    """One streaming pass for the class sums (or the head as given); C×d, small enough to send
    to every worker of a sharded run once."""
    c_total, d = len(counts), embeddings.shape[1]
    if head is not None:
        if head.shape != (c_total, d):
            raise UserInputError(f"classifier head shape {tuple(head.shape)} does not match "
                                 f"{c_total} clusters × {d}-d embeddings")
        return CRCentres(np.ascontiguousarray(head, dtype=np.float32), counts, None)
    sums = class_sums(embeddings, labels, c_total, torch.device("cpu"), progress, cancel)
    norms = torch.linalg.vector_norm(sums, dim=1, keepdim=True).clamp_min(1e-300)
    centres = torch.empty(sums.shape, dtype=torch.float32)
    for a in range(0, len(sums), CENTRE_BLOCK):  # no C×d float64 quotient held at once
        centres[a:a + CENTRE_BLOCK] = (sums[a:a + CENTRE_BLOCK] / norms[a:a + CENTRE_BLOCK])
    return CRCentres(centres.numpy(), counts, sums.numpy())


def cr_step(device: torch.device, n_clusters: int, search: SearchPlan | None = None) -> int:
    """Rows per CR chunk: bounded by the N·C scores one chunk holds in an exact search; through
    the index, large enough that each list's GEMM covers many rows (no N·C scores are held)."""
    if search is not None and search.mode == "ivf":
        return IVF_CHUNK_ROWS
    return max(64, min(default_chunk_rows(device) * 4, _SCORES_PER_CHUNK // max(1, n_clusters)))


class CRRowScorer:
    """CCS, NNCCS and the nearest other cluster of any rows, from `CRCentres`: a row's values
    depend on that row and the centres only, so rows can be scored in any grouping."""

    def __init__(self, c: CRCentres, device: torch.device):
        self.dev = device
        self.centres = torch.from_numpy(c.centres).to(device)
        self.counts = torch.from_numpy(np.asarray(c.counts)).to(device)
        invalid = None
        self.sums = None
        if c.sums is not None:
            sums = torch.from_numpy(c.sums).to(device)
            self.sums = sums.float()
            self.sq = (sums * sums).sum(dim=1)  # |S_c|², float64
            invalid = torch.nonzero(self.counts == 0).flatten()
            invalid = invalid if len(invalid) else None
        self.index = CentreIndex(self.centres, invalid)
        if c.search is not None and c.search.mode == "ivf":
            self.index = IVFCentreIndex(c.search.index_bytes, c.search.info["nprobe"],
                                        self.centres, invalid, self.index)

    def score(self, x: torch.Tensor, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray]:
        """(ccs, nnccs, nn_cluster) for unit rows `x` of clusters `labels`."""
        own = torch.from_numpy(np.asarray(labels, dtype=np.int64)).to(self.dev)
        if self.sums is None:
            own_ccs = (x * self.centres[own]).sum(dim=1)
        else:
            own_ccs = _loo_ccs(x, self.sums[own], self.sq[own], self.counts[own])
        top, arg = self.index.search(x, own)
        return own_ccs.cpu().numpy(), top.cpu().numpy(), arg.cpu().numpy()


def cr_from_parts(ccs: np.ndarray, nnccs: np.ndarray, nn_cluster: np.ndarray,
                  labels: np.ndarray, counts: np.ndarray, head_given: bool, device: str,
                  seconds: float = 0.0, search: SearchPlan | None = None) -> CRResult:
    """The result from every row's CCS and NNCCS (CR = CCS / (NNCCS + 1 + eps))."""
    cr = (ccs / (nnccs + 1.0 + CR_EPS)).astype(np.float32)
    singleton = counts[labels] < 2 if not head_given else np.zeros(len(labels), dtype=bool)
    params = {"method": "cr", "centres": "head" if head_given else "loo",
              "eps": CR_EPS, "device": device,
              "nnccs_search": search.info if search is not None else {"used": "exact"}}
    return CRResult(cr, ccs, nnccs, nn_cluster, singleton, params["centres"], params, seconds)


def _loo_ccs(x: torch.Tensor, own_sum: torch.Tensor, own_sq: torch.Tensor,
             own_count: torch.Tensor) -> torch.Tensor:
    """cos(x, normalised (S - x)) where S is the sum over x's cluster; NaN for singletons.

    With s = x·S and |S - x|² = |S|² - 2s + |x|² (|S|² exact in float64; s in float32 is off by
    ~1e-7·|S|, which the division by |S - x| ≈ |S| scales back to ~1e-7).
    """
    dot = (x * own_sum).sum(dim=1).double()
    xx = (x * x).sum(dim=1).double()
    rest2 = own_sq - 2 * dot + xx
    out = (dot - xx) / rest2.clamp_min(1e-300).sqrt()
    out = torch.where(own_count >= 2, out, torch.full_like(out, float("nan")))
    return out.float()

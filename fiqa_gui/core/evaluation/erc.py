"""Error-versus-reject curves (ERC): how well a quality label predicts recognition failures.

The protocol (SPEC §4, issue #15), for pairs from `pairs.build_pairs`:

* comparison score = cosine of the L2-normalised embeddings; genuine pairs share a cluster;
* pair quality = min of the two images' values, NaN counting as the lowest;
* threshold, fixed once on all impostor pairs: sort their scores descending,
  k = max(⌊FMR · #impostor⌋, 1), thr = the k-th largest; a genuine pair with score ≤ thr is a
  false non-match. An FMR below 1 / #impostor pairs is refused (it cannot be resolved);
* for r = 0, 0.05, …, 0.95: sort all pair qualities ascending (genuine and impostor together),
  cut = the value at position ⌊r · P⌋ (no cut at r = 0), keep the genuine pairs with
  quality ≥ cut, FNMR = their false-non-match share;
* AUC by the trapezoid rule over r ∈ [0, 0.95]; lower is better;
* variant "rederived": the threshold is found again at every r on the impostor pairs kept
  (what the CR-FIQA evaluation scripts do).

Counts are weighted sums throughout (`PairSet.weight`; all 1 without sampling), which makes
the same code serve the sampled pair sets and the identity bootstrap: a replicate draws the
clusters with replacement; a genuine pair of a cluster drawn m times counts m times, an
impostor pair between clusters drawn m and m' times counts m·m' times (copies of one identity
are not paired with each other). Intervals are the 2.5/97.5 percentiles over the replicates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.evaluation.pairs import PairSet
from fiqa_gui.core.progress import CancelToken, ProgressCallback, no_progress

REJECT_FRACTIONS = np.round(np.arange(20) * 0.05, 2)  # 0, 0.05, …, 0.95
VARIANTS = ("fixed", "rederived")
EPS = 1e-9  # ⌊FMR · n⌋ and ⌊r · P⌋ of decimal inputs, robust to binary rounding (0.29·100)


@dataclass
class ErcCurve:
    """One source's curve at one FMR: FNMR and threshold per reject fraction, and its area."""

    source: str
    fmr: float
    variant: str
    fnmr: np.ndarray
    thresholds: np.ndarray
    genuine_kept: np.ndarray
    auc: float
    auc_interval: tuple[float, float] | None = None
    fnmr_low: np.ndarray | None = None
    fnmr_high: np.ndarray | None = None

    @property
    def threshold(self) -> float:
        """The threshold before any rejection (the fixed one)."""
        return float(self.thresholds[0])


@dataclass
class ErcResult:
    """Curves of every (source, FMR), the pair counts and how the pairs were chosen."""

    curves: list[ErcCurve]
    reject_fractions: np.ndarray
    genuine_pairs: int
    impostor_pairs: int
    variant: str
    sampling: dict
    bootstrap: int = 0
    seed: int = 0
    info: dict = field(default_factory=dict)  # where the data came from (project, run, files)

    @property
    def sources(self) -> list[str]:
        return list(dict.fromkeys(c.source for c in self.curves))

    @property
    def fmrs(self) -> list[float]:
        return list(dict.fromkeys(c.fmr for c in self.curves))

    def curve(self, source: str, fmr: float) -> ErcCurve:
        for c in self.curves:
            if c.source == source and c.fmr == fmr:
                return c
        raise KeyError((source, fmr))


def trapezoid_auc(x: np.ndarray, y: np.ndarray) -> float:
    """Area under y(x) by the trapezoid rule; NaN if any y is NaN."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0)


def pair_quality(values: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """min(q_a, q_b) per pair, NaN as the lowest value (-inf)."""
    q = np.asarray(values, dtype=np.float64)
    q = np.where(np.isnan(q), -np.inf, q)
    return np.minimum(q[a], q[b])


def quality_order(values: np.ndarray, a: np.ndarray,
                  b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pair quality, stable ascending order of it). Sorted by the integer rank of each
    image's value (ties kept), so NumPy's 16-bit radix sort does it in linear time — the same
    order as a stable sort of the float pair qualities, several times faster."""
    q = np.asarray(values, dtype=np.float64)
    q = np.where(np.isnan(q), -np.inf, q)
    uniq, rank = np.unique(q, return_inverse=True)
    pair_rank = np.minimum(rank[a], rank[b])
    if len(uniq) <= 1 << 16:
        order = np.argsort(pair_rank.astype(np.uint16), kind="stable")
    else:  # two stable 16-bit passes: low half, then high half (LSD radix)
        pair_rank = pair_rank.astype(np.uint32)
        low = np.argsort((pair_rank & 0xFFFF).astype(np.uint16), kind="stable")
        high = np.argsort((pair_rank[low] >> 16).astype(np.uint16), kind="stable")
        order = low[high]
    return uniq[pair_rank], order


def check_fmrs(fmrs, impostor_pairs: int) -> tuple[float, ...]:
    """The FMRs as floats; refuse any outside (0, 1) or below 1 / #impostor pairs."""
    out = tuple(float(f) for f in fmrs)
    if not out:
        raise UserInputError("no FMR given", fix="e.g. --fmr 1e-3.")
    for f in out:
        if not 0 < f < 1:
            raise UserInputError(f"FMR {f:g} is not between 0 and 1",
                                 fix="give false-match rates such as 1e-2 or 1e-3.")
        if f * impostor_pairs < 1 - EPS:
            raise UserInputError(
                f"FMR {f:g} cannot be resolved: there are only {impostor_pairs} impostor pairs, "
                f"so the smallest false-match rate they can measure is 1/{impostor_pairs} = "
                f"{1 / impostor_pairs:.3g}", fix=f"use an FMR of at least {1 / impostor_pairs:.3g}"
                ", or evaluate on more images.")
    return out


def _floor(x: np.ndarray | float) -> np.ndarray:
    return np.floor(np.asarray(x, dtype=np.float64) + EPS)


def _exclusive_cumsum(w: np.ndarray) -> np.ndarray:
    out = np.empty(len(w) + 1)
    out[0] = 0.0
    np.cumsum(w, out=out[1:])
    return out


def _kth_largest(desc_scores: np.ndarray, desc_weights: np.ndarray, fmr: float, *,
                 cumulated: bool = False) -> float:
    """The weighted k-th largest score, k = max(⌊FMR · W⌋, 1); NaN if no weight.
    `cumulated`: `desc_weights` is already their running sum."""
    cw = desc_weights if cumulated else np.cumsum(desc_weights)
    if len(cw) == 0 or cw[-1] <= 0:
        return math.nan
    k = max(float(_floor(fmr * cw[-1])), 1.0)
    t = min(int(np.searchsorted(cw, k - EPS, side="left")), len(cw) - 1)
    return float(desc_scores[t])


class ErcEngine:
    """The ERC of several sources over one pair set, for any pair weights (bootstrap).

    What does not depend on the weights — each source's pair order by quality, the impostors'
    order by score — is sorted once here; `curves(weights)` is then a few linear passes.
    """

    def __init__(self, pairs: PairSet, sources: dict[str, np.ndarray], fmrs,
                 variant: str = "fixed",
                 reject_fractions: np.ndarray = REJECT_FRACTIONS) -> None:
        if variant not in VARIANTS:
            raise UserInputError(f"unknown variant {variant!r}", fix="use fixed or rederived.")
        self.pairs = pairs
        self.variant = variant
        self.fractions = np.asarray(reject_fractions, dtype=np.float64)
        self.fmrs = check_fmrs(fmrs, pairs.impostor_pairs)
        imp = np.flatnonzero(~pairs.genuine)
        self.imp_desc = imp[np.argsort(-pairs.score[imp])]  # ties' order cannot matter
        self.imp_desc_scores = pairs.score[self.imp_desc]
        self.gen = np.flatnonzero(pairs.genuine)
        self.sources = {}
        for name, values in sources.items():
            q, order = quality_order(values, pairs.a, pairs.b)
            gen_pos = np.flatnonzero(pairs.genuine[order])  # genuine pairs' sorted positions
            gen_idx = order[gen_pos]
            self.sources[name] = (q, order, q[order], gen_pos, gen_idx, pairs.score[gen_idx])

    def curves(self, weights: np.ndarray | None = None) -> dict[tuple[str, float], tuple]:
        """(source, fmr) → (fnmr, thresholds, genuine kept) arrays over the reject fractions."""
        p = self.pairs
        w = p.weight if weights is None else weights
        imp_cum = np.cumsum(w[self.imp_desc])  # shared by every FMR's threshold
        fixed = {f: _kth_largest(self.imp_desc_scores, imp_cum, f, cumulated=True)
                 for f in self.fmrs}
        out = {}
        for name, (q, order, q_sorted, gen_pos, gen_idx, gen_scores) in self.sources.items():
            cum = _exclusive_cumsum(w[order])  # the weighted rank of every pair by quality
            targets = _floor(self.fractions * cum[-1])
            pos = np.minimum(np.searchsorted(cum[:-1], targets - EPS, side="left"),
                             len(q_sorted) - 1)
            cuts = q_sorted[pos]
            cuts[self.fractions == 0] = -np.inf  # no cut at r = 0
            starts = np.searchsorted(q_sorted, cuts, side="left")  # ties at the cut are kept
            # sums over the genuine pairs kept: suffix sums over the genuine pairs alone
            gen_start = np.searchsorted(gen_pos, starts, side="left")
            gen_w = w[gen_idx]
            gen_cum = _exclusive_cumsum(gen_w)
            kept = gen_cum[-1] - gen_cum[gen_start]
            for f in self.fmrs:
                if self.variant == "fixed":
                    thr = np.full(len(cuts), fixed[f])
                    fnm_cum = _exclusive_cumsum(gen_w * (gen_scores <= fixed[f]))
                    fnm = fnm_cum[-1] - fnm_cum[gen_start]
                else:
                    thr, fnm = self._rederived(q, w, cuts, f)
                with np.errstate(invalid="ignore", divide="ignore"):
                    fnmr = np.where(kept > 0, fnm / np.where(kept > 0, kept, 1), np.nan)
                out[(name, f)] = (fnmr, thr, kept)
        return out

    def _rederived(self, q: np.ndarray, w: np.ndarray, cuts: np.ndarray,
                   fmr: float) -> tuple[np.ndarray, np.ndarray]:
        """Thresholds found again on the impostors kept at each cut, and the false non-matches."""
        q_imp = q[self.imp_desc]
        w_imp = w[self.imp_desc]
        q_gen, s_gen, w_gen = q[self.gen], self.pairs.score[self.gen], w[self.gen]
        thr = np.empty(len(cuts))
        fnm = np.empty(len(cuts))
        for t, cut in enumerate(cuts):
            thr[t] = _kth_largest_kept(self.imp_desc_scores, w_imp, q_imp, cut, fmr)
            fnm[t] = np.sum(w_gen[(q_gen >= cut) & (s_gen <= thr[t])]) \
                if np.isfinite(thr[t]) else math.nan
        return thr, fnm


def _kth_largest_kept(desc_scores: np.ndarray, desc_w: np.ndarray, desc_q: np.ndarray,
                      cut: float, fmr: float) -> float:
    """`_kth_largest` over the pairs with quality ≥ cut, scanning only the prefix it needs:
    k is a small share of the kept weight, so the k-th largest lies near the top."""
    kept_w = float(np.sum(desc_w, where=desc_q >= cut))
    if kept_w <= 0:
        return math.nan
    k = max(float(_floor(fmr * kept_w)), 1.0)
    carry, start, size = 0.0, 0, 1 << 15
    while start < len(desc_scores):
        sl = slice(start, start + size)
        cw = np.cumsum(desc_w[sl] * (desc_q[sl] >= cut)) + carry
        if cw[-1] >= k - EPS:
            return float(desc_scores[start + int(np.searchsorted(cw, k - EPS, side="left"))])
        carry, start, size = float(cw[-1]), start + size, size * 2
    return float(desc_scores[-1])


def bootstrap_weights(pairs: PairSet, rng: np.random.Generator) -> np.ndarray:
    """One identity-bootstrap replicate's pair weights (module docstring)."""
    m = np.bincount(rng.integers(0, pairs.n_clusters, pairs.n_clusters),
                    minlength=pairs.n_clusters).astype(np.float64)
    mult = np.where(pairs.genuine, m[pairs.cluster_a], m[pairs.cluster_a] * m[pairs.cluster_b])
    return pairs.weight * mult


def compute_erc(pairs: PairSet, sources: dict[str, np.ndarray], fmrs=(1e-3,), *,
                variant: str = "fixed", bootstrap: int = 0, seed: int = 0,
                reject_fractions: np.ndarray = REJECT_FRACTIONS,
                progress: ProgressCallback = no_progress,
                cancel: CancelToken | None = None) -> ErcResult:
    """ERC of every source at every FMR, with `bootstrap` identity replicates for intervals."""
    if bootstrap < 0:
        raise UserInputError(f"--bootstrap must be 0 or more (got {bootstrap})")
    n_pairs = len(pairs)
    for name, values in sources.items():
        if len(values) != pairs.n_images:
            raise UserInputError(f"the label source {name!r} has {len(values)} values for "
                                 f"{pairs.n_images} images", fix="give one value per image.")
    progress(0, 1, "error-versus-reject curves")
    engine = ErcEngine(pairs, sources, fmrs, variant, reject_fractions)
    base = engine.curves()
    progress(1, 1, "error-versus-reject curves")
    fr = engine.fractions
    reps: dict[tuple[str, float], list] = {k: [] for k in base}
    rng = np.random.default_rng(seed)
    for b in range(bootstrap):
        if cancel is not None:
            cancel.check()
        for key, (fnmr, _thr, _kept) in engine.curves(bootstrap_weights(pairs, rng)).items():
            reps[key].append(fnmr)
        progress(b + 1, bootstrap, "bootstrap replicates")
    curves = []
    for (name, f), (fnmr, thr, kept) in base.items():
        curve = ErcCurve(source=name, fmr=f, variant=variant, fnmr=fnmr, thresholds=thr,
                         genuine_kept=kept, auc=trapezoid_auc(fr, fnmr))
        if bootstrap:
            r = np.asarray(reps[(name, f)])
            aucs = np.array([trapezoid_auc(fr, row) for row in r])
            with np.errstate(invalid="ignore"):
                lo, hi = np.nanpercentile(aucs, [2.5, 97.5]) if np.isfinite(aucs).any() \
                    else (math.nan, math.nan)
            curve.auc_interval = (float(lo), float(hi))
            curve.fnmr_low, curve.fnmr_high = _percentile_bands(r)
        curves.append(curve)
    return ErcResult(curves=curves, reject_fractions=fr, genuine_pairs=pairs.genuine_pairs,
                     impostor_pairs=pairs.impostor_pairs, variant=variant,
                     sampling=dict(pairs.sampling, pairs=n_pairs), bootstrap=bootstrap,
                     seed=seed)


def _percentile_bands(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo = np.full(r.shape[1], np.nan)
    hi = np.full(r.shape[1], np.nan)
    for j in range(r.shape[1]):
        col = r[:, j][np.isfinite(r[:, j])]
        if len(col):
            lo[j], hi[j] = np.percentile(col, [2.5, 97.5])
    return lo, hi

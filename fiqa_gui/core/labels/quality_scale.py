"""An absolute poorness scale for the flags: 0 = like the reference good images, 1 = like the
reference poor ones, whatever share of the data set is poor.

Percentile ranks (the scale `quality` uses to *order* images) move with the make-up of a data
set: when three clusters in four are degraded, "the bottom 35 %" no longer reaches them. The
flags need a scale fixed by something else than the data set's own quantiles. This module fixes
it by two *reference sets*:

- good references: the curator's trusted images (approved seeds, images tiered high) when there
  are at least `MIN_REFERENCE` of them; otherwise the images whose pixel score `iq` is at least
  `iq_good`, halfway from the self-calibrated poor level up to the best images' own score
  (`self_calibration`: what the project's own best images score once blurred, down-scaled,
  noised or JPEG-compressed);
- poor references: the images whose `iq` is more than `POOR_MARGIN` (10 points) below that
  poor level `iq_poor`. At the level itself, clean photos that merely score low on pixels (dark
  skin, side light) made up half the poor references when few clusters were degraded, which
  shortened the scale exactly when the data set was mostly clean; ten points below, the
  references are degraded images at every share.

Each cue is then measured in units of the distance between the two references' medians:

- pixel poorness     p_pix = (med_G iq − iq) / (med_G iq − med_P iq);
- embedding poorness p_emb = (e − med_G e) / (med_P e − med_G e), with e the *crowding* of an
  image: on unit rows, the mean over the 10 most similar other identities of its highest cosine
  to each (`crowding`, computed from Euclidean distances between the rows as given). Degraded
  images of every identity drift toward each other (SPEC §5), so a poor image has close
  neighbours among other identities and a clean one has not — whatever the kind of degradation,
  and whether or not the pixel cues saw it (a down-scaled photo can keep a good pixel score).
  Distances do not change when a mean vector is subtracted, so mean-centred embeddings give the
  raw embeddings' values exactly (centring *and then* re-normalising the rows is a different
  space, not covered by that guarantee); a bunched model (every pair between 0.6 and 0.95, like
  dlib's) changes the values but barely the order, and the median scale absorbs the change.
  The low-information cue of `quality_cues` (cosine to the data set's mean) has neither
  property: centring erases its direction, and the mean moves toward the poor images as their
  share grows.

`poorness` is the mean of the two (the cues fail on different images: pixels miss occluders and
down-scaling, a face model may shrug off JPEG blocks), or the embedding part alone without pixel
cues. Without pixel cues and without enough curator references, the references fall back to a
split of the crowding cue at the largest gap between cluster means (`method` then says so); that
fallback assumes both groups exist.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from fiqa_gui.core.labels.pixel_degradation import PixelDegradation

MIN_REFERENCE = 10
CHUNK = 4 * 1024 * 1024  # reference cells per block (16 MiB of float32)
CROWD_K = 10
CROWD_SAMPLE = 4096
WIDEN = 4  # candidates per row, × k, when a row's k nearest repeat a cluster
WIDE_FROM = 512  # reference clusters from which the wider top-k beats a per-cluster scatter
SCREEN_FROM = 1024  # references from which a bfloat16 screen beats the float32 product
SCREEN_M = 32  # candidates per row the screen keeps for exact re-scoring
STRENGTH_WIDTH = 0.25
POOR_MARGIN = 10.0


@dataclass
class QualityScale:
    """Per-image poorness on the reference scale, and how the scale was fixed."""

    poorness: np.ndarray            # mean of the parts below (NaN-aware)
    crowding: np.ndarray            # the embedding cue itself (`crowding`)
    pixel_poorness: np.ndarray      # NaN without pixel cues
    embedding_poorness: np.ndarray
    good: np.ndarray                # image ids of the good references
    poor: np.ndarray                # image ids of the poor references
    method: str                     # 'curator references' | 'pixel calibration' | 'embedding split'
    iq_poor: float | None = None
    # per-cue pixel degradation on the calibration's own scale (`pixel_degradation`): the
    # trap rule's pixel evidence where the calibration recorded its cues
    degradation: PixelDegradation | None = None

    def describe(self) -> str:
        """One sentence for the window: what 0 and 1 mean on this scale."""
        if self.method == "curator references":
            base = f"the {len(self.good)} images the curator trusts"
        elif self.method == "pixel calibration":
            base = (f"the {len(self.good)} images scoring at least {self.iq_poor:.0f}/100 on "
                    "pixels (what this project's best images score once degraded)")
        else:
            base = f"the {len(self.good)} images least crowded by other identities"
        return (f"0 = typical of {base}, 1 = typical of the {len(self.poor)} reference poor "
                "images")


def crowding(embeddings: np.ndarray, labels: np.ndarray, *, k: int = CROWD_K,
             sample: int = CROWD_SAMPLE, seed: int = 0, screen: bool | None = None
             ) -> np.ndarray:
    """Per image, how close the `k` nearest *other identities* come: for each other cluster the
    nearest of its images, as 1 − ½·(squared Euclidean distance), averaged over the `k` clusters
    that come nearest; references are a seeded sample of at most `sample` images (all of them
    when fewer).

    On unit rows this is the mean, over the `k` most similar other identities, of the highest
    cosine to each. Degraded images of every identity drift toward each other, so a poor image
    is close to *many* identities; a clean image of a look-alike identity is close to *one*, and
    counting each identity once keeps it from looking crowded (the 30 nearest images, which an
    earlier version used, let one neighbouring identity fill the whole count). Distances between
    the rows *as given* do not change when a mean vector is subtracted, so mean-centred
    embeddings give exactly the values of the raw ones; no direction is estimated from the data
    set's mean.

    `screen` (default: where the CPU multiplies bfloat16 natively and there are at least
    `SCREEN_FROM` references) finds each row's candidates with a bfloat16 product and re-scores
    them in float32 (`_Screen`): the same values as the float32 product, to its rounding, in
    about two thirds of the time (200 k rows: 9.2 → 5.9 s on two cores)."""
    import torch

    n = embeddings.shape[0]
    labels = np.asarray(labels, dtype=np.int64)
    pick = np.arange(n) if n <= sample else np.sort(
        np.random.default_rng([seed, 0x63726F]).choice(n, sample, replace=False))
    order = pick[np.argsort(labels[pick], kind="stable")]  # references grouped by cluster
    ref_clusters, ref_index = np.unique(labels[order], return_inverse=True)
    out = np.full(n, np.nan)
    if len(ref_clusters) < 2:
        return out
    kk = max(1, min(k, len(ref_clusters) - 1))
    # float32 products on unit-scale rows: ~1e-6 off float64, far below any threshold's grain
    ref = torch.from_numpy(np.array(embeddings[order], dtype=np.float32))
    neg_half_sq = -0.5 * (ref * ref).sum(dim=1)
    col = torch.from_numpy(ref_index.reshape(-1).astype(np.int64))
    # where each reference cluster's images lie in `order` (a contiguous range)
    ref_start = np.searchsorted(labels[order], ref_clusters)
    ref_count = np.diff(np.append(ref_start, len(order)))
    step = max(1, CHUNK // max(len(order), 1))
    if screen is None:
        from fiqa_gui.core.scoring.device import bf16_matmul_is_fast  # imports torch: here

        screen = len(order) >= SCREEN_FROM and bf16_matmul_is_fast("cpu")
    screen = screen and len(order) > SCREEN_M
    screener = _Screen(ref, neg_half_sq, col, kk) if screen else None

    def in_full(x, row_labels):
        """The float32 product over every reference, then each cluster's maximum."""
        near = torch.addmm(neg_half_sq, x, ref.T)
        _mask_own(near, row_labels, ref_clusters, ref_start, ref_count)
        return _top_distinct(near, col, kk)

    with torch.inference_mode():
        for start in range(0, n, step):
            x = torch.from_numpy(np.array(embeddings[start:start + step], dtype=np.float32))
            row_labels = labels[start:start + step]
            # −½‖x − r‖² = x·r − ½‖r‖² − ½‖x‖², then the nearest image of each reference
            # cluster; the row's own −½‖x‖² changes no order, so it is added to the mean last
            if screener is None:
                top = in_full(x, row_labels)
            else:
                top, redo = screener.top(x, row_labels, ref_clusters, ref_start, ref_count)
                if len(redo):
                    top[redo] = in_full(x[redo], row_labels[redo.numpy()])
            xd = x.double()
            out[start:start + len(x)] = (1.0 + top.double().mean(dim=1)
                                         - 0.5 * (xd * xd).sum(dim=1)).numpy()
    return out


class _Screen:
    """Each row's `SCREEN_M` best references by a bfloat16 product, re-scored in float32.

    The bfloat16 value of a cell differs from the float32 one by at most `ε`: the rounding of
    both operands (‖x̃ − x‖·‖r‖ + ‖x̃‖·‖r̃ − r‖, with the rows' own rounding errors), of the
    bfloat16 result (2⁻⁸ of it) and of both accumulations (d·2⁻²⁴ each). A row's answer is the
    `kk` largest per-cluster maxima among its re-scored candidates; it is exact when those hold
    `kk` clusters and the `kk`-th exceeds what any other reference could reach (the last
    candidate's screened value + ε). Rows where it does not are returned to be done in full."""

    def __init__(self, ref, neg_half_sq, col, kk: int):
        self.neg_half_sq, self.col, self.kk = neg_half_sq, col, kk
        self.ref_t = ref.T.contiguous()
        ref16 = ref.bfloat16()
        self.ref16_t = ref16.T.contiguous()
        widened = ref16.float()
        self.r_norm = float(ref.norm(dim=1).max())
        self.r16_norm = float(widened.norm(dim=1).max())
        self.r_err = float((widened - ref).norm(dim=1).max())
        self.h_min = float(neg_half_sq.min())
        self.acc = 2.0 * ref.shape[1] * 2.0 ** -24 * 1.01
        self.m = min(SCREEN_M, ref.shape[0])

    def top(self, x, row_labels, ref_clusters, ref_start, ref_count):
        """(`kk` largest per-cluster maxima per row, rows to redo in full)."""
        import torch

        x16 = x.bfloat16()
        x16f = x16.float()
        screened = (x16 @ self.ref16_t).float().add_(self.neg_half_sq)
        _mask_own(screened, row_labels, ref_clusters, ref_start, ref_count)
        s_val, idx = torch.topk(screened, self.m, dim=1)
        exact = self._rescore(x, idx) + self.neg_half_sq[idx]
        exact.masked_fill_(torch.isinf(s_val), float("-inf"))
        order = torch.argsort(exact, dim=1, descending=True)
        vals = torch.gather(exact, 1, order)
        top, ok = _distinct_top(vals, self.col[torch.gather(idx, 1, order)], self.kk)
        x16_norm = x16f.norm(dim=1)
        x_err = (x16f - x).norm(dim=1)
        eps = (x_err * self.r_norm + x16_norm * self.r_err
               + self.acc * x16_norm * self.r16_norm + 1e-6)
        last = s_val[:, -1]
        # the bfloat16 result's own rounding: 2⁻⁸ of |x̃·r̃| ≤ the last candidate's, plus −h
        eps += 2.0 ** -8 * 1.01 * (last - self.h_min).clamp(min=0.0).nan_to_num(0.0)
        ok &= torch.isfinite(top[:, -1]) & (last + eps < top[:, -1])
        return top, torch.nonzero(~ok).flatten()

    def _rescore(self, x, idx):
        """x_i · r_j in float32 for each row's candidates (a sampled product, no gather)."""
        import torch

        rows, m = idx.shape
        crow = torch.arange(0, rows * m + 1, m, dtype=torch.int64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
            pattern = torch.sparse_csr_tensor(crow, idx.reshape(-1), torch.zeros(rows * m),
                                              size=(rows, self.ref_t.shape[1]))
            out = torch.sparse.sampled_addmm(pattern, x, self.ref_t)
        return out.values().view(rows, m)


def _mask_own(near, row_labels: np.ndarray, ref_clusters: np.ndarray, ref_start: np.ndarray,
              ref_count: np.ndarray) -> None:
    """Set each row's references of its own cluster to −inf (in place): one flat fill over
    just those cells, not a comparison of every row with every reference."""
    import torch

    k = np.minimum(np.searchsorted(ref_clusters, row_labels), len(ref_clusters) - 1)
    has = ref_clusters[k] == row_labels
    rows, k = np.flatnonzero(has), k[has]
    counts = ref_count[k]
    if not counts.sum():
        return
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    cells = np.repeat(rows * near.shape[1] + ref_start[k], counts) + within
    near.view(-1)[torch.from_numpy(cells)] = float("-inf")


def _top_distinct(near, col, kk: int):
    """Per row, the `kk` largest per-cluster maxima of `near` (references × cluster `col`).

    Where a row's `m` largest references hold `kk` different clusters, the first reference of
    each of the first `kk` clusters met in descending order is exactly those maxima (any other
    cluster's maximum lies below all `m`). That holds at m = kk for most rows once references
    spread over many clusters. Rows with repeats try m = `WIDEN`·kk where the references span
    at least `WIDE_FROM` clusters; the rest take each cluster's maximum over all references (a
    scatter whose cost grows with the number of clusters: below `WIDE_FROM` it is as cheap as
    the wider top-k, as in small data sets where every image is a reference)."""
    import torch

    vals, idx = torch.topk(near, kk, dim=1)
    cl = torch.sort(col[idx], dim=1).values
    dup = (cl[:, 1:] == cl[:, :-1]).any(dim=1) if kk > 1 else torch.zeros(len(cl), dtype=bool)
    rest = torch.nonzero(dup).flatten()
    m = min(WIDEN * kk, near.shape[1])
    if len(rest) and m > kk and len(col) and int(col.max()) >= WIDE_FROM:
        wide, ok = _first_of_each_cluster(near[rest], col, kk, m)
        vals[rest[ok]] = wide[ok]
        rest = rest[~ok]
    if len(rest):
        sub = near[rest]
        per = torch.full((len(rest), int(col.max()) + 1), float("-inf"), dtype=near.dtype)
        per.scatter_reduce_(1, col.expand(len(rest), -1), sub, reduce="amax")
        vals[rest] = torch.topk(per, kk, dim=1).values
    return vals


def _first_of_each_cluster(near, col, kk: int, m: int):
    """Among each row's `m` largest references, the values of the first reference of each
    cluster (in descending order), the first `kk` of them; and whether the row had `kk`."""
    import torch

    vals, idx = torch.topk(near, m, dim=1)          # descending
    return _distinct_top(vals, col[idx], kk)


def _distinct_top(vals, cl, kk: int):
    """From values in descending order per row and their clusters `cl`, the first `kk` values
    of different clusters; and whether the row had `kk` clusters."""
    import torch

    # a stable sort by cluster keeps descending order within a cluster: its first is its max
    by_cl, pos = torch.sort(cl, dim=1, stable=True)
    first = torch.ones_like(by_cl, dtype=torch.bool)
    first[:, 1:] = by_cl[:, 1:] != by_cl[:, :-1]
    keep = torch.zeros_like(first).scatter_(1, pos, first)
    ok = keep.sum(dim=1) >= kk
    # the kept values in descending order: masked ones sink to −inf
    top = torch.topk(vals.masked_fill(~keep, float("-inf")), kk, dim=1).values
    return top, ok


def strength_from_poorness(poorness: np.ndarray, fallback: np.ndarray | None = None,
                           *, width: float = STRENGTH_WIDTH) -> np.ndarray:
    """Identity strength s in (0, 1) on the absolute scale: 1/(1 + exp((p − ½)/width)).

    Halfway between the references (p = ½) gives ½; a typical good image (p = 0) 0.88, a typical
    poor one (p = 1) 0.12 with the default width ¼. Where p is NaN, `fallback` (e.g. the
    percentile-based `quality_cues.model_free_quality`) is used."""
    p = np.asarray(poorness, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        s = 1.0 / (1.0 + np.exp((p - 0.5) / width))
    if fallback is not None:
        s = np.where(np.isfinite(s), s, np.asarray(fallback, dtype=float))
    return s


def _scaled(values: np.ndarray, good: np.ndarray, poor: np.ndarray, sign: float) -> np.ndarray:
    g, p = np.nanmedian(values[good]), np.nanmedian(values[poor])
    span = sign * (p - g)
    if not np.isfinite(span) or span <= 1e-12:
        return np.full(len(values), np.nan)
    return sign * (values - g) / span


def _largest_gap_split(values: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Images of the clusters above / below the largest gap between sorted cluster medians."""
    counts = np.bincount(labels)
    sums = np.bincount(labels, weights=np.nan_to_num(values))
    med = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    present = np.flatnonzero(counts >= 2)
    if len(present) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = present[np.argsort(med[present])]
    gaps = np.diff(med[order])
    cut = int(np.argmax(gaps))
    low_clusters, high_clusters = order[:cut + 1], order[cut + 1:]
    return (np.flatnonzero(np.isin(labels, low_clusters)),
            np.flatnonzero(np.isin(labels, high_clusters)))


def quality_scale(embeddings: np.ndarray, labels: np.ndarray, iq: np.ndarray | None = None, *,
                  iq_poor: float | None = None, iq_good: float | None = None,
                  trusted: np.ndarray | None = None,
                  degradation: PixelDegradation | None = None) -> QualityScale:
    """Fix the poorness scale from reference sets (see the module docstring).

    `iq_poor` is `self_calibration.calibrate_iq(...).iq_poor`; `trusted` the ids of images the
    curator approved as seeds or tiered high; `degradation` is carried along for the flags.
    """
    n = embeddings.shape[0]
    labels = np.asarray(labels, dtype=np.int64)
    have_iq = iq is not None and iq_poor is not None and np.isfinite(iq).sum() >= 2 * MIN_REFERENCE
    if have_iq and iq_good is None:
        iq_good = iq_poor
    iq = np.asarray(iq, dtype=float) if iq is not None else np.full(n, np.nan)
    trusted = np.unique(np.asarray(trusted, dtype=np.int64)) if trusted is not None \
        else np.zeros(0, np.int64)
    good = poor = np.zeros(0, np.int64)
    method = "embedding split"
    if have_iq:
        with np.errstate(invalid="ignore"):
            poor = np.flatnonzero(iq < iq_poor - POOR_MARGIN)
            good = np.flatnonzero(iq >= iq_good)
        method = "pixel calibration"
    if len(trusted) >= MIN_REFERENCE:
        good = trusted
        poor = np.setdiff1d(poor, trusted)
        method = "curator references"
    crowd = crowding(embeddings, labels)
    if len(good) < MIN_REFERENCE or len(poor) < MIN_REFERENCE:
        good, poor = _largest_gap_split(crowd, labels)
        if len(trusted) >= MIN_REFERENCE:
            good, poor = trusted, np.setdiff1d(poor, trusted)
        method = "curator references" if len(trusted) >= MIN_REFERENCE else "embedding split"
    if len(good) == 0 or len(poor) == 0:
        nan = np.full(n, np.nan)
        return QualityScale(nan, crowd, nan.copy(), nan.copy(), good,
                            poor, method, iq_poor if have_iq else None, degradation)
    p_emb = _scaled(crowd, good, poor, +1.0)
    p_pix = _scaled(iq, good, poor, -1.0) if have_iq else np.full(n, np.nan)
    stacked = np.vstack([p_emb, p_pix])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
        poorness = np.nanmean(stacked, axis=0)
    return QualityScale(poorness=poorness, crowding=crowd, pixel_poorness=p_pix,
                        embedding_poorness=p_emb,
                        good=good, poor=poor, method=method,
                        iq_poor=float(iq_poor) if have_iq else None, degradation=degradation)

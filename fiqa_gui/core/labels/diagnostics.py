"""Flags that expose where SDD/CR labels are known to be wrong, each with a plain explanation.

Thresholds are parameters (`FlagParams`), and none of them is a quantile of the data set: a rule
"the bottom 35 %" or "tighter than the median cluster" moves with the data set's make-up, and on
a real-photo check where three clusters in four were degraded it found a fifth of them. The
flags instead measure every image on the *poorness scale* of `quality_scale` — 0 = typical of
reference good images, 1 = typical of reference poor ones, the references fixed by the
curator's trusted images or by self-calibration (the project's own best images, degraded;
`self_calibration`) — so a threshold means the same at 10 % and at 75 % poor data.

- `consistency_trap` (cluster, ≥ 3 images): its typical image is poor. Three cues, each a
  cluster median on a scale that does not move with the data set's make-up: *pixel degradation*
  (`pixel_degradation`: the cue each degradation moves — sharpness, noise, JPEG blocking — with
  0 = the project's best images, 1 = their blurred, down-scaled, noised or JPEG-compressed
  copies; and the share of clipped highlights), *embedding poorness* (how crowded by other
  identities, `quality_scale`) and the `iq`-based *pixel poorness*. The flag is raised when the
  pixels are clearly degraded (degradation ≥ `trap_degradation`, 0.6), or when the embedding
  leans poor (≥ `trap_embedding`, 0.5) and the pixels support it (degradation — or, without a
  cue calibration, pixel poorness — ≥ `trap_pixel_support`, 0.4), or by one cue alone when it is
  unmistakable (embedding ≥ `trap_embedding_alone`, 0.7 — occluders, which no pixel cue sees,
  show only here; pixel poorness ≥ `trap_pixel`, 1.0, which covers under-exposure). A clean
  look-alike identity photographed in dim light leans poor on the embedding and on `iq`, but its
  sharpness, noise and blocking stay those of a clean photo; the sweep's false positives came
  from exactly such clusters while `iq` was the pixel support. Without pixel cues the embedding
  alone decides at `trap_embedding`. SDD, fed by the cluster's own mutually similar images,
  rates such a cluster as it rates good ones; the explanation gives its median SDD as a
  percentile of the good references' SDD. Not cohesion: with a real model degraded clusters were
  *not* tighter than clean ones in absolute cosine; what marked them was a high SDD together
  with low model-free quality. No SDD threshold either: SDD is min-max normalised over the data
  set, so any cut on it moves with the make-up. That is SPEC §5 defect 1.
- `score_shift` (image, and its cluster): an image clearly better than its cluster's typical one
  (poorness ≤ the cluster median − `shift_gap`, half the good-to-poor distance) that SDD or CR
  nevertheless ranks in the lower half of its cluster — defect 2.
- `identity_suspect` (image): negative signed SDD (positives below negatives), or nearer to
  another cluster's centre than to its own (CCS < NNCCS); the explanation names that nearer
  cluster and the cosine to its centre.
- `near_duplicate` (image, with a group id): cosine ≥ `near_dup_cos` (0.985) to another image of
  its cluster; real face models give such values only for copies of one photo (resized,
  re-encoded, lightly augmented), which inflate each other's positives.
- `singleton` (image): alone in its cluster, SDD undefined.
- `low_iq` (image): pixel quality `iq` below `low_iq` (30 of 100).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fiqa_gui.core.labels.flag_details import (
    FlagDetail,
    FlagDetails,
    IdentitySuspects,
    LowIq,
    ScoreShifts,
)
from fiqa_gui.core.labels.grouped import Groups, unit_rows
from fiqa_gui.core.labels.pixel_degradation import CUE_COPIES, CUE_WORDS
from fiqa_gui.core.labels.quality_scale import QualityScale, quality_scale
from fiqa_gui.core.scoring.flag_lists import FlagLists

IMAGE_FLAGS = ("singleton", "identity_suspect", "score_shift", "near_duplicate", "low_iq",
               "unreadable")
CLUSTER_FLAGS = ("consistency_trap", "score_shift")
# the order `diagnose` raises an image's flags in, and a row's cluster flags after them
IMAGE_FLAG_ORDER = ("near_duplicate", "singleton", "score_shift", "identity_suspect", "low_iq",
                    "unreadable")
ROW_CLUSTER_FLAGS = ("consistency_trap", "cluster_score_shift")


@dataclass(frozen=True)
class FlagParams:
    trap_embedding: float = 0.5
    trap_embedding_alone: float = 0.7
    trap_pixel_support: float = 0.4
    trap_pixel: float = 1.0
    trap_degradation: float = 0.6
    shift_gap: float = 0.5
    near_dup_cos: float = 0.985
    low_iq: float = 30.0


def _trap_cues(p_emb: float, p_pix: float, params: FlagParams,
               p_deg: float = float("nan")) -> tuple[bool, bool]:
    """(embedding says poor, pixels say poor) under the trap rule of the module docstring."""
    by_emb, by_pix = _trap_cues_all(np.array([p_emb], float), np.array([p_pix], float), params,
                                    np.array([p_deg], float))
    return bool(by_emb[0]), bool(by_pix[0])


@dataclass
class Diagnostics:
    image_flags: FlagLists            # reads as one list of flag names per image
    cluster_flags: dict[int, list[str]]
    details: FlagDetails              # reads as a list of `FlagDetail`, built when read
    near_dup_group: np.ndarray      # group id per image, −1 when none
    cohesion: np.ndarray            # mean pairwise cosine per cluster (NaN below 2 images)
    cluster_strength: np.ndarray    # median model-free quality per cluster
    cluster_poorness: np.ndarray    # median poorness per cluster (the scale of `scale`)
    scale: QualityScale | None = None

    def row_flags(self, labels: np.ndarray) -> FlagLists:
        """Image flags plus their cluster's flags, as the score CSV writes them.

        `consistency_trap` exists only for clusters and keeps its name on each row; the
        cluster-level score shift is written `cluster_score_shift` so it stays distinct from
        the image-level `score_shift` of the odd-one-out image itself. One bit code per row
        (`FlagLists`), no list per row.
        """
        labels = np.asarray(labels, dtype=np.int64)
        n_clusters = int(labels.max()) + 1 if len(labels) else 0
        for c in self.cluster_flags:
            n_clusters = max(n_clusters, int(c) + 1)
        cluster_codes = np.zeros(n_clusters, dtype=np.uint32)
        for c, fl in self.cluster_flags.items():
            for f in fl:
                cluster_codes[c] |= np.uint32(1) << np.uint32(CLUSTER_FLAGS.index(f))
        image = FlagLists.from_lists(self.image_flags, IMAGE_FLAG_ORDER)
        return image.merge(FlagLists(cluster_codes[labels], [ROW_CLUSTER_FLAGS]))


def diagnose(embeddings: np.ndarray, labels: np.ndarray, *, strength: np.ndarray,
             sdd: np.ndarray, sdd_signed: np.ndarray, cr: np.ndarray, ccs: np.ndarray,
             nnccs: np.ndarray, iq: np.ndarray | None = None,
             unreadable: np.ndarray | None = None,
             params: FlagParams = FlagParams(), scale: QualityScale | None = None,
             cluster_names: list[str] | None = None,
             nn_cluster: np.ndarray | None = None,
             sums: np.ndarray | None = None) -> Diagnostics:
    """Compute every flag; `strength` is `quality_cues.model_free_quality` (0–1, shown next to
    the flags), `scale` the poorness scale (computed here from embeddings and `iq` without a
    pixel calibration when None), `nn_cluster` the nearest other cluster per image (computed for
    identity suspects when None); `cluster_names` name clusters in the explanations; `sums`
    the clusters' sums of unit rows when the caller has them (`grouped.Groups.unit_sums`).

    Every per-cluster statistic is computed for all clusters at once (`grouped.Groups`); Python
    loops run only over what is flagged."""
    n = len(labels)
    labels = np.asarray(labels, dtype=np.int64)
    groups = Groups(labels)
    size = groups.size
    flags = FlagLists.empty(n, IMAGE_FLAG_ORDER)
    cluster_flags: dict[int, list[str]] = {}
    per_cluster: dict[int, list[FlagDetail]] = {}  # cluster-level details, in cluster order
    cluster_strength = groups.nanmedian(strength)
    if sums is None:
        sums = groups.unit_sums(embeddings)
    cohesion = _cohesion(groups, sums)
    dup_group, dup_details = _near_duplicates(groups, embeddings, params.near_dup_cos, flags)

    if scale is None:
        scale = quality_scale(embeddings, labels, iq)
    poorness = scale.poorness
    cluster_poorness = np.where(size >= 2, groups.nanmedian(poorness), np.nan)
    ref_sdd = np.sort(sdd[scale.good][np.isfinite(sdd[scale.good])])

    flags.set("singleton", (size == 1)[labels])
    for c in np.flatnonzero(size == 1):
        i = int(groups.members(c)[0])
        per_cluster.setdefault(int(c), []).append(FlagDetail(
            "singleton", int(c), i, "The only image of its cluster: SDD and CR are undefined "
            "(no positives).", {}))

    three = size >= 3
    p_emb_all = groups.nanmedian(scale.embedding_poorness)
    p_pix_all = groups.nanmedian(scale.pixel_poorness)
    deg = scale.degradation
    p_deg_all = groups.nanmedian(deg.value) if deg is not None else np.full(len(size), np.nan)
    c_sdd_all = groups.nanmedian(sdd)
    by_emb_all, by_pix_all = _trap_cues_all(p_emb_all, p_pix_all, params, p_deg_all)
    n_fin, mean_sdd = groups.finite_count(sdd), groups.nanmean(sdd)
    described = scale.describe()
    for c in np.flatnonzero(three & (by_emb_all | by_pix_all)):
        c = int(c)
        p_emb, p_pix, c_sdd = p_emb_all[c], p_pix_all[c], c_sdd_all[c]
        p_deg = p_deg_all[c]
        by_emb, by_pix = bool(by_emb_all[c]), bool(by_pix_all[c])
        cluster_flags.setdefault(c, []).append("consistency_trap")
        cue = _main_cue(deg, groups.members(c)) if np.isfinite(p_deg) else None
        cues = []
        if by_emb:
            cues.append(f"its embeddings sit {p_emb:.0%} of the way from the good "
                        "references toward where poor images of every identity gather")
        shows_degradation = by_pix and cue is not None and p_deg >= params.trap_pixel_support
        if shows_degradation and cue == "over_exposure":
            cues.append(f"its {CUE_WORDS[cue]} is {p_deg:.0%} of the way to a quarter of "
                        "the face region clipped")
        elif shows_degradation:
            cues.append(f"its {CUE_WORDS[cue]} is {p_deg:.0%} of the way from this "
                        f"project's best images to their {CUE_COPIES[cue]}")
        if by_pix and np.isfinite(p_pix) and (not shows_degradation
                                              or p_pix >= params.trap_pixel):
            cues.append(f"its pixel quality is {p_pix:.0%} of the way from the good "
                        "references to the poor ones")
        sdd_pct = (float(np.searchsorted(ref_sdd, c_sdd)) / len(ref_sdd)
                   if len(ref_sdd) and np.isfinite(c_sdd) else np.nan)
        sdd_text = (f"SDD rates its typical image {c_sdd:.0f}, above {sdd_pct:.0%} of the "
                    "good references" if np.isfinite(sdd_pct) else
                    "SDD, fed by these mutually similar images, rates them all alike")
        per_cluster.setdefault(c, []).append(FlagDetail(
            "consistency_trap", c, None,
            f"Its typical image is poor — {' and '.join(cues)} (scale: {described},"
            f" fixed by {scale.method}) — yet {sdd_text}. Mutually similar poor images are "
            "each other's positives: consistent is not the same as good.",
            {"embedding_poorness": _f(p_emb), "pixel_poorness": _f(p_pix),
             "pixel_degradation": _f(p_deg), "degradation_cue": cue,
             "threshold_degradation": params.trap_degradation,
             "threshold_embedding": params.trap_embedding,
             "threshold_embedding_alone": params.trap_embedding_alone,
             "threshold_pixel_support": params.trap_pixel_support,
             "threshold_pixel": params.trap_pixel,
             "median_sdd": _f(c_sdd), "sdd_percentile_of_good": _f(sdd_pct),
             "cohesion": _f(cohesion[c]), "median_strength": _f(cluster_strength[c]),
             "scale_method": scale.method, "scale_good": int(len(scale.good)),
             "scale_poor": int(len(scale.poor)), "iq_poor": scale.iq_poor,
             "mean_sdd": _f(mean_sdd[c]) if n_fin[c] else None}))
    shifts = _score_shift(groups, cluster_poorness, poorness, strength, sdd, cr, params, flags,
                          cluster_flags)

    suspect = (np.nan_to_num(sdd_signed, nan=0.0) < 0) | (
        np.isfinite(ccs) & np.isfinite(nnccs) & (ccs < nnccs))
    suspects = np.flatnonzero(suspect)
    nn_sim = nn_idx = np.zeros(0)
    if nn_cluster is None and len(suspects):
        nn_sim, nn_idx = nearest_other_centres(embeddings, labels, suspects, sums)
    elif len(suspects):
        nn_idx = np.asarray(nn_cluster)[suspects]
        nn_sim = np.asarray(nnccs, dtype=float)[suspects]
    flags.set("identity_suspect", suspects)
    suspect_details = IdentitySuspects(suspects, nn_idx, nn_sim, labels, sdd_signed, ccs, nnccs,
                                       cluster_names)
    low = None
    if iq is not None:
        with np.errstate(invalid="ignore"):
            low_ids = np.flatnonzero(np.isfinite(iq) & (iq < params.low_iq))
        flags.set("low_iq", low_ids)
        low = LowIq(low_ids, labels, iq, params.low_iq)
    if unreadable is not None:
        flags.set("unreadable", np.asarray(unreadable, dtype=bool))
    details = FlagDetails(near_duplicates=dup_details, per_cluster=per_cluster,
                          score_shifts=shifts, suspects=suspect_details, low_iq=low)
    return Diagnostics(image_flags=flags, cluster_flags=cluster_flags, details=details,
                       near_dup_group=dup_group, cohesion=cohesion,
                       cluster_strength=cluster_strength, cluster_poorness=cluster_poorness,
                       scale=scale)


def _cohesion(groups: Groups, sums: np.ndarray) -> np.ndarray:
    """Mean pairwise cosine of each cluster (NaN below 2 images): with S the sum of its k unit
    rows, (|S|² − k) / (k(k − 1)) — the off-diagonal mean of the Gram matrix, from one pass."""
    k = groups.size.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = ((sums * sums).sum(axis=1) - k) / (k * (k - 1))
    return np.where(groups.size >= 2, out, np.nan)


def _near_duplicates(groups: Groups, embeddings: np.ndarray, threshold: float,
                     flags: FlagLists) -> tuple[np.ndarray, list[FlagDetail]]:
    """Groups of near-identical images: connected components of the "cos ≥ threshold" graph
    inside each cluster (float64), for the clusters a batched float32 screen found pairs in."""
    dup_group = np.full(len(groups.labels), -1, dtype=np.int64)
    details: list[FlagDetail] = []
    next_group = 0
    hits = groups.close_pairs_clusters(embeddings, threshold)
    if len(hits):
        from scipy.sparse import coo_matrix  # only here: half a second of start-up
        from scipy.sparse.csgraph import connected_components
    for c in hits:
        c = int(c)
        members = groups.members(c)
        k = len(members)
        x = unit_rows(embeddings[members])
        s = x @ x.T
        np.fill_diagonal(s, -np.inf)
        ii, jj = np.nonzero(s >= threshold)
        if not len(ii):
            continue
        graph = coo_matrix((np.ones(len(ii)), (ii, jj)), shape=(k, k))
        _, comp = connected_components(graph, directed=False)
        sizes = np.bincount(comp)
        for g in np.flatnonzero(sizes > 1):
            ids = members[comp == g]
            dup_group[ids] = next_group
            flags.set("near_duplicate", ids)
            block = s[np.ix_(comp == g, comp == g)]
            details.append(FlagDetail(
                "near_duplicate", c, int(ids[0]),
                f"{len(ids)} images of this cluster are near-identical (cosine ≥ "
                f"{threshold}); copies inflate each other's positives, so their "
                "SDD is too high.",
                {"group": next_group, "images": ids.tolist(),
                 "min_cosine": float(block[np.isfinite(block)].min())}))
            next_group += 1
    return dup_group, details


def _trap_cues_all(p_emb: np.ndarray, p_pix: np.ndarray, params: FlagParams,
                   p_deg: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`_trap_cues` for arrays of cluster medians (NaN compares false, as there): the pixel
    support is the degradation where it is known, else the `iq`-based poorness."""
    if p_deg is None:
        p_deg = np.full(len(p_emb), np.nan)
    with np.errstate(invalid="ignore"):
        support = np.where(np.isfinite(p_deg), p_deg, p_pix)
        emb = p_emb >= params.trap_embedding
        both = emb & (support >= params.trap_pixel_support)
        pix_ok = np.isfinite(support) | np.isfinite(p_pix)
        by_emb = np.where(pix_ok, both | (p_emb >= params.trap_embedding_alone), emb)
        by_pix = pix_ok & (both | (p_pix >= params.trap_pixel)
                           | (p_deg >= params.trap_degradation))
    return by_emb, by_pix


def nearest_other_centres(embeddings: np.ndarray, labels: np.ndarray, ids: np.ndarray,
                          sums: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For images `ids`: cosine to the nearest centre of another cluster, and that cluster.

    Centres are the unit means of each cluster's unit rows (CR-FIQA's class centres), from
    `sums` (`Groups.unit_sums`; computed when not given); only the asked images are compared
    with every centre."""
    labels = np.asarray(labels, dtype=np.int64)
    if sums is None:
        sums = Groups(labels).unit_sums(embeddings)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    centres = sums / np.where(norms > 0, norms, 1.0)
    x = unit_rows(embeddings[np.asarray(ids)])
    sims = x @ centres.T
    sims[np.arange(len(ids)), labels[ids]] = -np.inf
    sims[:, norms[:, 0] == 0] = -np.inf
    best = sims.argmax(axis=1)
    return sims[np.arange(len(ids)), best], best


def _score_shift(groups: Groups, cluster_median: np.ndarray, poorness, strength, sdd, cr,
                 params: FlagParams, flags: FlagLists, cluster_flags) -> ScoreShifts | None:
    """Images clearly better than their cluster's median poorness that SDD or CR ranks in the
    bottom half (clusters of ≥ 3 images); SDD is asked first, an image is flagged once. Their
    details are built when read (`flag_details.ScoreShifts`)."""
    labels = groups.labels
    k = groups.size[labels]
    median = cluster_median[labels]
    with np.errstate(invalid="ignore"):
        clear = (k >= 3) & np.isfinite(median) & (
            np.nan_to_num(poorness, nan=np.inf) <= median - params.shift_gap)
    if not clear.any():
        return None
    shifted = np.zeros(len(labels), dtype=bool)
    ids, by_cr, ranks_of = [], [], []
    for j, score in enumerate((sdd, cr)):
        score = np.asarray(score, dtype=float)
        any_finite = groups.finite_count(score) > 0
        ranks = groups.descending_ranks(score)
        hit = clear & any_finite[labels] & (ranks > k / 2) & ~shifted
        shifted |= hit
        found = np.flatnonzero(hit)
        ids.append(found)
        by_cr.append(np.full(len(found), bool(j)))
        ranks_of.append(ranks[found].astype(np.int64))
    ids, by_cr, ranks_of = np.concatenate(ids), np.concatenate(by_cr), np.concatenate(ranks_of)
    # cluster by cluster, SDD's before CR's, members in id order (as a loop over clusters gave)
    order = np.lexsort((ids, by_cr, labels[ids]))
    ids, by_cr, ranks_of = ids[order], by_cr[order], ranks_of[order]
    flags.set("score_shift", ids)
    for c in np.unique(labels[ids]).tolist():
        if "score_shift" not in cluster_flags.get(c, []):
            cluster_flags.setdefault(c, []).append("score_shift")
    return ScoreShifts(ids=ids, by_cr=by_cr, ranks=ranks_of, labels=labels, poorness=poorness,
                       strength=strength, cluster_median=cluster_median,
                       cluster_size=groups.size, shift_gap=params.shift_gap)


def _main_cue(deg, members: np.ndarray) -> str | None:
    """The degradation cue that gave most of a cluster's images their degradation value."""
    codes = deg.cue[members]
    codes = codes[codes >= 0]
    if not len(codes):
        return None
    return deg.cue_name(int(np.bincount(codes).argmax()))


def _f(x) -> float | None:
    x = float(x)
    return None if np.isnan(x) else x

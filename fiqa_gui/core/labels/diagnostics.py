"""Flags that expose where SDD/CR labels are known to be wrong, each with a plain explanation.

Thresholds are parameters (`FlagParams`) chosen from principles, not tuned to any generator:

- `consistency_trap` (cluster): the cluster's positives are tighter than the typical cluster's
  (mean pairwise cosine ≥ the median over clusters) while its typical image sits in the bottom
  `trap_strength` (35 %) of the data set by model-free quality — by the combined cue, or by the
  embedding-side cue alone (the cluster gathers where degraded images of many identities
  gather; pixel cues are blind to occluders and mild exposure faults, so either cue suffices).
  Tight *and* poor is the signature of SPEC §5 defect 1: SDD scores every image of it high.
- `score_shift` (image, and its cluster): an image clearly better than its cluster's typical one
  (model-free quality ≥ the cluster median + `shift_gap`, a quarter of the percentile scale) that
  SDD or CR nevertheless ranks in the lower half of its cluster — defect 2.
- `identity_suspect` (image): negative signed SDD (positives below negatives), or nearer to
  another cluster's centre than to its own (CCS < NNCCS).
- `near_duplicate` (image, with a group id): cosine ≥ `near_dup_cos` (0.985) to another image of
  its cluster; real face models give such values only for copies of one photo (resized,
  re-encoded, lightly augmented), which inflate each other's positives.
- `singleton` (image): alone in its cluster, SDD undefined.
- `low_iq` (image): pixel quality `iq` below `low_iq` (30 of 100).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from fiqa_gui.core.labels.ranking import cluster_members, descending_ranks

IMAGE_FLAGS = ("singleton", "identity_suspect", "score_shift", "near_duplicate", "low_iq",
               "unreadable")
CLUSTER_FLAGS = ("consistency_trap", "score_shift")


@dataclass(frozen=True)
class FlagParams:
    trap_strength: float = 0.35
    shift_gap: float = 0.25
    near_dup_cos: float = 0.985
    low_iq: float = 30.0


@dataclass
class FlagDetail:
    """One raised flag: what, where, why in words, and the numbers behind the words."""

    flag: str
    cluster: int
    image: int | None
    explanation: str
    numbers: dict = field(default_factory=dict)


@dataclass
class Diagnostics:
    image_flags: list[list[str]]
    cluster_flags: dict[int, list[str]]
    details: list[FlagDetail]
    near_dup_group: np.ndarray      # group id per image, −1 when none
    cohesion: np.ndarray            # mean pairwise cosine per cluster (NaN below 2 images)
    cluster_strength: np.ndarray    # median model-free quality per cluster

    def row_flags(self, labels: np.ndarray) -> list[list[str]]:
        """Image flags plus their cluster's flags, as the score CSV writes them.

        `consistency_trap` exists only for clusters and keeps its name on each row; the
        cluster-level score shift is written `cluster_score_shift` so it stays distinct from
        the image-level `score_shift` of the odd-one-out image itself.
        """
        out = []
        for i, flags in enumerate(self.image_flags):
            extra = ["cluster_score_shift" if f == "score_shift" else f
                     for f in self.cluster_flags.get(int(labels[i]), [])]
            out.append(flags + extra)
        return out


def diagnose(embeddings: np.ndarray, labels: np.ndarray, *, strength: np.ndarray,
             sdd: np.ndarray, sdd_signed: np.ndarray, cr: np.ndarray, ccs: np.ndarray,
             nnccs: np.ndarray, iq: np.ndarray | None = None,
             unreadable: np.ndarray | None = None,
             embedding_strength: np.ndarray | None = None,
             params: FlagParams = FlagParams()) -> Diagnostics:
    """Compute every flag; `strength` is `quality_cues.model_free_quality` (0–1) and
    `embedding_strength` its embedding-side part alone (percentile rank of −lowinfo)."""
    n = len(labels)
    n_clusters = int(labels.max()) + 1 if n else 0
    flags: list[list[str]] = [[] for _ in range(n)]
    details: list[FlagDetail] = []
    cluster_flags: dict[int, list[str]] = {}
    cohesion = np.full(n_clusters, np.nan)
    cluster_strength = np.full(n_clusters, np.nan)
    cluster_embedding = np.full(n_clusters, np.nan)
    dup_group = np.full(n, -1, dtype=np.int64)
    next_group = 0

    groups = cluster_members(labels)
    for members in groups:
        c = int(labels[members[0]])
        k = len(members)
        cluster_strength[c] = np.nanmedian(strength[members])
        if embedding_strength is not None:
            cluster_embedding[c] = np.nanmedian(embedding_strength[members])
        if k < 2:
            continue
        x = np.asarray(embeddings[members], dtype=np.float64)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        s = x @ x.T
        cohesion[c] = (s.sum() - np.trace(s)) / (k * (k - 1))
        # near duplicates: connected components of the "cos ≥ threshold" graph in the cluster
        np.fill_diagonal(s, -np.inf)
        ii, jj = np.nonzero(s >= params.near_dup_cos)
        if len(ii):
            graph = coo_matrix((np.ones(len(ii)), (ii, jj)), shape=(k, k))
            _, comp = connected_components(graph, directed=False)
            sizes = np.bincount(comp)
            for g in np.flatnonzero(sizes > 1):
                ids = members[comp == g]
                dup_group[ids] = next_group
                for i in ids:
                    flags[i].append("near_duplicate")
                details.append(FlagDetail(
                    "near_duplicate", c, int(ids[0]),
                    f"{len(ids)} images of this cluster are near-identical (cosine ≥ "
                    f"{params.near_dup_cos}); copies inflate each other's positives, so their "
                    "SDD is too high.",
                    {"group": next_group, "images": ids.tolist(),
                     "min_cosine": float(s[np.ix_(comp == g, comp == g)][
                         np.isfinite(s[np.ix_(comp == g, comp == g)])].min())}))
                next_group += 1

    valid = np.isfinite(cohesion) & (np.bincount(labels, minlength=n_clusters) >= 3)
    cohesion_median = float(np.median(cohesion[valid])) if valid.any() else np.nan

    for members in groups:
        c = int(labels[members[0]])
        k = len(members)
        if k == 1:
            i = int(members[0])
            flags[i].append("singleton")
            details.append(FlagDetail("singleton", c, i, "The only image of its cluster: SDD "
                                      "and CR are undefined (no positives).", {}))
            continue
        poor = np.nanmin([cluster_strength[c], cluster_embedding[c]])
        if k >= 3 and valid[c] and cohesion[c] >= cohesion_median \
                and poor <= params.trap_strength:
            cluster_flags.setdefault(c, []).append("consistency_trap")
            which = ("its embeddings sit where degraded images of many identities gather"
                     if cluster_embedding[c] < cluster_strength[c] else
                     "its model-free quality is low")
            details.append(FlagDetail(
                "consistency_trap", c, None,
                f"The images agree closely with each other (mean cosine {cohesion[c]:.2f}, "
                f"above the typical cluster's {cohesion_median:.2f}) but {which} (only "
                f"{poor:.0%} of the data set ranks below its typical image). Tight positives "
                "make SDD rate them all high: consistent is not the same as good.",
                {"cohesion": float(cohesion[c]), "median_cohesion": cohesion_median,
                 "median_strength": float(cluster_strength[c]),
                 "median_embedding_strength": _f(cluster_embedding[c]),
                 "threshold_strength": params.trap_strength,
                 "mean_sdd": float(np.nanmean(sdd[members]))}))
        if k >= 3:
            _score_shift(c, members, strength, sdd, cr, params, flags, details, cluster_flags)

    suspect = (np.nan_to_num(sdd_signed, nan=0.0) < 0) | (
        np.isfinite(ccs) & np.isfinite(nnccs) & (ccs < nnccs))
    for i in np.flatnonzero(suspect):
        i = int(i)
        flags[i].append("identity_suspect")
        reason = ("its positives are lower than its negatives (signed SDD "
                  f"{sdd_signed[i]:.1f})" if sdd_signed[i] < 0 else
                  f"it is nearer to another cluster's centre (cosine {nnccs[i]:.2f}) than to "
                  f"its own ({ccs[i]:.2f})")
        details.append(FlagDetail("identity_suspect", int(labels[i]), i,
                                  f"Possibly a different person: {reason}.",
                                  {"sdd_signed": _f(sdd_signed[i]), "ccs": _f(ccs[i]),
                                   "nnccs": _f(nnccs[i])}))
    if iq is not None:
        for i in np.flatnonzero(np.isfinite(iq) & (iq < params.low_iq)):
            flags[int(i)].append("low_iq")
            details.append(FlagDetail("low_iq", int(labels[i]), int(i),
                                      f"Pixel quality {iq[i]:.0f}/100 is below "
                                      f"{params.low_iq:.0f} (blur, exposure or resolution).",
                                      {"iq": float(iq[i])}))
    if unreadable is not None:
        for i in np.flatnonzero(unreadable):
            flags[int(i)].append("unreadable")
    return Diagnostics(image_flags=flags, cluster_flags=cluster_flags, details=details,
                       near_dup_group=dup_group, cohesion=cohesion,
                       cluster_strength=cluster_strength)


def _score_shift(c, members, strength, sdd, cr, params, flags, details, cluster_flags) -> None:
    k = len(members)
    median = float(np.nanmedian(strength[members]))
    for name, score in (("SDD", sdd), ("CR", cr)):
        vals = score[members]
        if not np.isfinite(vals).any():
            continue
        ranks = descending_ranks(vals)  # rank 1 = best by this score inside the cluster
        for j in np.flatnonzero((strength[members] >= median + params.shift_gap)
                                & (ranks > k / 2)):
            i = int(members[j])
            if "score_shift" in flags[i]:
                continue
            flags[i].append("score_shift")
            if "score_shift" not in cluster_flags.get(c, []):
                cluster_flags.setdefault(c, []).append("score_shift")
            details.append(FlagDetail(
                "score_shift", c, i,
                f"Among the best images of its cluster by model-free quality "
                f"({strength[i]:.0%} vs the cluster's median {median:.0%}), yet {name} ranks it "
                f"{ranks[j]} of {k}: a mutually similar majority sets the cluster's scores and "
                "this image is the odd one out.",
                {"strength": float(strength[i]), "cluster_median_strength": median,
                 "score": name, "rank": int(ranks[j]), "cluster_size": k}))


def _f(x) -> float | None:
    x = float(x)
    return None if np.isnan(x) else x

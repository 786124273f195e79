"""Anchored re-scoring: the `quality` label (0–100), positives measured against trusted anchors.

SDD and CR measure an image against its whole cluster, so a mutually similar majority of poor
images outranks a lone good image (score shift) and a uniformly poor cluster looks excellent
(consistency trap). `quality` instead combines two factors:

    quality_i = 100 · s_i · g_i

- s_i, identity strength: the model-free quality of `quality_cues` (percentile ranks of the
  embedding-side cue and of the pixel cues) — how much identity the image carries, measured
  without comparing it to the rest of its cluster.
- g_i, anchored identity certainty: a CR-style margin with positives taken from the anchors,
  g_i = sigmoid((cos(x_i, a_c) − NNCCS_i) / τ), where a_c is the unit mean of cluster c's anchors
  (without i itself) and NNCCS_i the similarity to the nearest *other* cluster centre, as in
  CR-FIQA. Nearest other centres rather than SDD's random negatives: 24 random draws almost never
  hit the one confusable identity, the max over centres always does. g ≈ 1 for an image that is
  clearly its cluster's identity, ≈ 0 for a wrong-identity image; τ = 0.05 (cosine units) makes a
  margin of 0.15 count as certain (g = 0.95).

Anchors are the curator-approved seed images of a cluster when there are any. Before that they
are *proposed*: the top images by model-free quality, at most `max_anchors` and a quarter of the
cluster, among members that are not identity suspects (nearer to another cluster's centre than to
their own, or negative signed SDD) nor near-blank (`eligibility`) — so centrality guards identity
but never ranks quality.
Other clusters' centres (NNCCS) do not depend on anchors, so changing one cluster's anchors
changes `quality` in that cluster only.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

import numpy as np

from fiqa_gui.core.labels.grouped import CHUNK, Groups, unit_rows

TAU = 0.05
MAX_ANCHORS = 3
ANCHOR_FRACTION = 0.25


@dataclass
class AnchoredResult:
    quality: np.ndarray          # 0–100, NaN for singletons
    strength: np.ndarray         # s_i in (0, 1]
    certainty: np.ndarray        # g_i in (0, 1)
    anchor_similarity: np.ndarray  # cos(x_i, a_c)
    anchors: dict[int, list[int]]  # cluster index → image ids used as anchors
    anchor_source: dict[int, str]  # cluster index → 'approved' | 'proposed'


def propose_anchors(labels: np.ndarray, strength: np.ndarray, suspect: np.ndarray, *,
                    max_anchors: int = MAX_ANCHORS,
                    fraction: float = ANCHOR_FRACTION) -> dict[int, list[int]]:
    """Per cluster (≥ 2 images), the best images by model-free quality that are not `suspect`
    (the mask of `eligibility.ineligible`: identity suspects and near-blank images); all the
    members are the pool of a cluster that has no eligible one. One sort for every cluster."""
    labels = np.asarray(labels, dtype=np.int64)
    if not len(labels):
        return {}
    suspect = np.asarray(suspect, dtype=bool)
    groups = Groups(labels)
    size = groups.size
    want = np.clip(np.ceil(fraction * size), 1, max_anchors).astype(np.int64)
    eligible = np.bincount(labels, weights=~suspect, minlength=groups.n_clusters)
    eligible = eligible.astype(np.int64)
    take = np.where(eligible > 0, np.minimum(want, eligible), want)
    # cluster by cluster: eligible first, then by strength (NaN as -1) descending, ties by id
    key = -np.nan_to_num(np.asarray(strength, dtype=float), nan=-1.0)
    pos = groups.positions(groups.order_by(suspect, key))
    chosen = np.flatnonzero((pos < take[labels]) & (size[labels] >= 2))  # ids ascending
    chosen = chosen[np.argsort(labels[chosen], kind="stable")]
    cuts = np.flatnonzero(np.diff(labels[chosen])) + 1
    return {int(labels[ids[0]]): ids.tolist() for ids in np.split(chosen, cuts) if len(ids)}


def anchored_quality(embeddings: np.ndarray, labels: np.ndarray, strength: np.ndarray,
                     nnccs: np.ndarray, anchors: dict[int, list[int]], *,
                     approved: dict[int, list[int]] | None = None,
                     tau: float = TAU, sums: np.ndarray | None = None) -> AnchoredResult:
    """Compute `quality` for every image; `approved` anchors replace proposed ones per cluster.

    `sums`: the clusters' sums of unit rows when the caller has them (`Groups.unit_sums`).
    Streams over the rows once: each row's anchor centre is its cluster's anchor sum, less the
    row itself when it is an anchor (a sole anchor is measured against the rest of its cluster
    instead: it has no other trusted image)."""
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    used = dict(anchors)
    source = {c: "proposed" for c in anchors}
    for c, ids in (approved or {}).items():
        if ids:
            used[c] = sorted(int(i) for i in ids)
            source[c] = "approved"
    groups = Groups(labels)
    sim = np.full(n, np.nan)
    clusters = np.array([c for c, ids in used.items() if len(ids)], dtype=np.int64)
    clusters = clusters[clusters < groups.n_clusters]
    clusters = clusters[groups.size[clusters] >= 2]
    if len(clusters):
        lists = [used[int(c)] for c in clusters]
        a_ids = np.fromiter(chain.from_iterable(lists), dtype=np.int64)
        a_of = np.repeat(clusters, [len(ids) for ids in lists])
        a_sum = np.zeros((groups.n_clusters, embeddings.shape[1]))
        # in blocks of anchors (at MS1MV2 scale all of them in float64 were ~1 GiB, with two
        # more copies for the reordering), each block read in row order and added in list
        # order: the sums are the same, bit for bit, as one add over all anchors
        for k in range(0, len(a_ids), CHUNK):
            ids = a_ids[k:k + CHUNK]
            srt = np.argsort(ids)
            unit = unit_rows(embeddings[ids[srt]])
            np.add.at(a_sum, a_of[k:k + CHUNK], unit[np.argsort(srt)])
            del unit
        n_anchors = np.bincount(a_of, minlength=groups.n_clusters)
        is_anchor = np.zeros(n, dtype=bool)
        is_anchor[a_ids[labels[a_ids] == a_of]] = True
        has = np.zeros(groups.n_clusters, dtype=bool)
        has[clusters] = True
        lone_cluster = n_anchors == 1
        if sums is None and lone_cluster.any():
            sums = groups.unit_sums(embeddings)
        a_sq = (a_sum * a_sum).sum(axis=1)
        s_sq = (sums * sums).sum(axis=1) if sums is not None else None
        step = CHUNK // 4
        for a in range(0, n, step):
            lab = labels[a:a + step]
            rows = np.flatnonzero(has[lab])
            if not len(rows):
                continue
            block = embeddings[a:a + step]
            x = unit_rows(block[rows] if len(rows) < len(lab) else block, np.float32)
            c = lab[rows]
            mine = is_anchor[a + rows]
            lone = mine & lone_cluster[c]
            ref, ref_sq = a_sum[c].astype(np.float32), a_sq[c]
            if lone.any():
                ref[lone], ref_sq[lone] = sums[c[lone]], s_sq[c[lone]]
            # cos(x, r − x·[anchor]) from x·r, |r|² and |x|² (no centre is normalised)
            dot = np.einsum("ij,ij->i", x, ref).astype(np.float64)
            xx = np.einsum("ij,ij->i", x, x).astype(np.float64) * mine
            num = dot - xx
            den = np.sqrt(np.maximum(ref_sq - 2 * dot * mine + xx, 0.0))
            with np.errstate(invalid="ignore", divide="ignore"):
                sim[a + rows] = np.where(den > 0, num / den, 0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        certainty = 1.0 / (1.0 + np.exp(-(sim - np.asarray(nnccs, dtype=float)) / tau))
    quality = 100.0 * np.asarray(strength, dtype=float) * certainty
    return AnchoredResult(quality=quality, strength=np.asarray(strength, dtype=float),
                          certainty=certainty, anchor_similarity=sim, anchors=used,
                          anchor_source=source)

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

import numpy as np

from fiqa_gui.core.labels.ranking import cluster_members

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
    (the mask of `eligibility.ineligible`: identity suspects and near-blank images)."""
    anchors: dict[int, list[int]] = {}
    for members in cluster_members(labels):
        if len(members) < 2:
            continue
        k = int(np.clip(np.ceil(fraction * len(members)), 1, max_anchors))
        trusted = members[~suspect[members]]
        pool = trusted if len(trusted) else members
        ranked = pool[np.argsort(-np.nan_to_num(strength[pool], nan=-1.0), kind="stable")]
        anchors[int(labels[members[0]])] = sorted(int(i) for i in ranked[:k])
    return anchors


def anchored_quality(embeddings: np.ndarray, labels: np.ndarray, strength: np.ndarray,
                     nnccs: np.ndarray, anchors: dict[int, list[int]], *,
                     approved: dict[int, list[int]] | None = None,
                     tau: float = TAU) -> AnchoredResult:
    """Compute `quality` for every image; `approved` anchors replace proposed ones per cluster."""
    n = len(labels)
    used = dict(anchors)
    source = {c: "proposed" for c in anchors}
    for c, ids in (approved or {}).items():
        if ids:
            used[c] = sorted(int(i) for i in ids)
            source[c] = "approved"
    sim = np.full(n, np.nan)
    for members in cluster_members(labels):
        c = int(labels[members[0]])
        if len(members) < 2 or c not in used:
            continue
        x = _unit(np.asarray(embeddings[members], dtype=np.float64))
        a_ids = np.array(used[c])
        a = _unit(np.asarray(embeddings[a_ids], dtype=np.float64))
        a_sum = a.sum(axis=0)
        is_anchor = np.isin(members, a_ids)
        # Leave the image itself out of its anchor centre; a sole anchor is compared with the
        # rest of its cluster instead (it has no other trusted image to be measured against).
        centres = np.repeat(a_sum[None, :], len(members), axis=0)
        centres[is_anchor] -= x[is_anchor]
        lone = is_anchor & (len(a_ids) == 1)
        if lone.any():
            centres[lone] = x.sum(axis=0) - x[lone]
        sim[members] = np.einsum("ij,ij->i", x, _unit(centres))
    with np.errstate(over="ignore", invalid="ignore"):
        certainty = 1.0 / (1.0 + np.exp(-(sim - np.asarray(nnccs, dtype=float)) / tau))
    quality = 100.0 * np.asarray(strength, dtype=float) * certainty
    return AnchoredResult(quality=quality, strength=np.asarray(strength, dtype=float),
                          certainty=certainty, anchor_similarity=sim, anchors=used,
                          anchor_source=source)


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(norm > 0, norm, 1.0)

"""The curator's evidence as training targets: what each labelled image's quality is, and how much
to trust it.

Corrected scores are taken as they are and tiers as their label values (`TIER_LABELS`, the same
values the labels export writes), both with full weight; an approved seed counts as high and a
rejected one as low, with half the weight (a seed decision says "good/poor example of this
identity", less than a grade). Wrong-identity images are left out: their scores were measured
against the wrong identity. Unreadable images are left out too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fiqa_gui.core.curation.commands import read_annotations
from fiqa_gui.core.export.project_export import TIER_LABELS

SEED_VALUES = {"approved": TIER_LABELS["high"], "rejected": TIER_LABELS["low"]}
SEED_WEIGHT = 0.5


@dataclass
class Evidence:
    """Labelled images, their target values (0–100) and weights, and where each came from."""

    image_ids: np.ndarray  # int64
    values: np.ndarray     # float64, 0–100
    weights: np.ndarray    # float64
    sources: list[str]     # "corrected_score" | "tier" | "seed"

    def __len__(self) -> int:
        return len(self.image_ids)

    def counts(self) -> dict[str, int]:
        return {s: self.sources.count(s) for s in sorted(set(self.sources))}


def curator_evidence(project, unreadable: np.ndarray | None = None) -> Evidence:
    """Every image the curator said something about its quality, by the rule above."""
    ids, values, weights, sources = [], [], [], []
    for image_id, a in sorted(read_annotations(project).items()):
        if a.get("wrong_identity") or (unreadable is not None and unreadable[image_id]):
            continue
        if a.get("corrected_score") is not None:
            v, w, s = float(a["corrected_score"]), 1.0, "corrected_score"
        elif a.get("tier") in TIER_LABELS:
            v, w, s = TIER_LABELS[a["tier"]], 1.0, "tier"
        elif a.get("seed_state") in SEED_VALUES:
            v, w, s = SEED_VALUES[a["seed_state"]], SEED_WEIGHT, "seed"
        else:
            continue
        ids.append(image_id)
        values.append(v)
        weights.append(w)
        sources.append(s)
    return Evidence(np.asarray(ids, dtype=np.int64), np.asarray(values, dtype=float),
                    np.asarray(weights, dtype=float), sources)


def is_curated(project, n: int) -> np.ndarray:
    """Per image: the curator set a tier, a corrected score or marked it wrong identity."""
    out = np.zeros(n, dtype=bool)
    for image_id, a in read_annotations(project).items():
        if a.get("tier") or a.get("corrected_score") is not None or a.get("wrong_identity"):
            out[image_id] = True
    return out

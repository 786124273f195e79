"""Scoring engine (Qt-free): SDD-FIQA, CR-FIQA and model-free image cues (SPEC §1–3).

- `sdd`: `sdd_scores`, `similarity_sets` (the exact draws behind one image's score)
- `cr`: `cr_scores`, `load_head`
- `image_quality`: `compute_image_cues` and the pure cue functions
- `pipeline`: `ScoringParams`, `score_dataset` → `ScoreResult`
- `device`: `resolve_device` and chunked, normalised embedding reads
- `wasserstein`: batched 1-D W1 in torch
"""

from fiqa_gui.core.scoring.cr import CRResult, cr_scores, load_head
from fiqa_gui.core.scoring.device import resolve_device
from fiqa_gui.core.scoring.image_quality import compute_image_cues
from fiqa_gui.core.scoring.pipeline import ScoreResult, ScoringParams, score_dataset
from fiqa_gui.core.scoring.sdd import SDDResult, sdd_scores, similarity_sets
from fiqa_gui.core.scoring.wasserstein import w1, w1_sorted

__all__ = [
    "CRResult", "SDDResult", "ScoreResult", "ScoringParams", "compute_image_cues", "cr_scores",
    "load_head", "resolve_device", "score_dataset", "sdd_scores", "similarity_sets", "w1",
    "w1_sorted",
]

"""Scoring engine (Qt-free): SDD-FIQA, CR-FIQA and model-free image cues (SPEC §1–3).

- `sdd`: `sdd_scores`, `similarity_sets` (the exact draws behind one image's score)
- `cr`: `cr_scores`, `load_head`
- `image_quality`: `compute_image_cues` and the pure cue functions
- `pipeline`: `ScoringParams`, `score_dataset` → `ScoreResult`
- `device`: `resolve_device` and chunked, normalised embedding reads
- `wasserstein`: batched 1-D W1 in torch

The names below load their module on first use (PEP 562): importing a light module of this
package (`flag_lists`) must not import torch, which costs the window a second at start-up.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "CRResult": "cr", "cr_scores": "cr", "load_head": "cr",
    "resolve_device": "device",
    "compute_image_cues": "image_quality",
    "ScoreResult": "pipeline", "ScoringParams": "pipeline", "score_dataset": "pipeline",
    "SDDResult": "sdd", "sdd_scores": "sdd", "similarity_sets": "sdd",
    "w1": "wasserstein", "w1_sorted": "wasserstein",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))

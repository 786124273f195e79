"""The similarity picture behind an SDD score: the positive and negative cosine sets a
stored run drew for one image, and W1 between them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class SimilarityPicture:
    """The two similarity sets behind one image's SDD in one repetition, and their distance."""

    index: int
    repeat: int
    pos: np.ndarray
    neg: np.ndarray
    w1: float
    pos_mean: float
    neg_mean: float


def private_embeddings(path: str | Path) -> np.ndarray:
    """The embeddings file memory-mapped copy-on-write: pages are read lazily like a read-only
    map, but a computation that normalises rows in place writes to private memory instead of
    failing on (or changing) the project's file."""
    return np.load(path, mmap_mode="c", allow_pickle=False)


def run_similarity_params(params: dict | None) -> dict:
    """The keyword arguments of `similarity_sets` that reproduce a stored scoring run."""
    params = params or {}
    return {"seed": int(params.get("seed", 0)),
            "positives": int(params.get("positives", 24)),
            "negatives": int(params.get("negatives", 24)),
            "exact": bool(params.get("exact", False))}


def similarity_picture(embeddings: np.ndarray, labels: np.ndarray, index: int,
                       params: dict | None = None, repeat: int = 0) -> SimilarityPicture:
    """The positive and negative similarity sets the scoring run used for image `index`
    (repetition `repeat`), with W1 between them and their means.

    Raises ImportError while the scoring package is not installed.
    """
    from fiqa_gui.core.scoring.sdd import similarity_sets

    pos, neg = similarity_sets(embeddings, labels, index, repeat=repeat,
                               **run_similarity_params(params))
    pos = np.asarray(pos, dtype=float).ravel()
    neg = np.asarray(neg, dtype=float).ravel()
    if len(pos) and len(neg):
        from scipy.stats import wasserstein_distance

        w1 = float(wasserstein_distance(pos, neg))
    else:
        w1 = math.nan
    return SimilarityPicture(index=index, repeat=repeat, pos=pos, neg=neg, w1=w1,
                             pos_mean=float(pos.mean()) if len(pos) else math.nan,
                             neg_mean=float(neg.mean()) if len(neg) else math.nan)

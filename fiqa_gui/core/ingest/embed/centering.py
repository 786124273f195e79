"""Optional mean-centring of embeddings before scoring (`--center`).

SDD and CR compare cosine similarities. Some models put every face in a narrow cone: dlib's
128-d descriptors of *different* people typically have cosines of 0.8–0.9, so positive and
negative similarity sets are bunched together near 1 and differences in quality are squeezed
into the third decimal. Subtracting the dataset's mean (of the L2-normalised rows) moves the
cone's axis to the origin and spreads those cosines over [−1, 1], which makes SDD's
distributions and CR's margins readable. It helps for such models and for data sets with many
identities (the mean is then the "average face", not one person); it does little for
ArcFace-style models whose cosines between people already centre near 0, and it can mislead
on a data set of a handful of identities, whose mean is dominated by them.
"""

from __future__ import annotations

import numpy as np


def center_embeddings(emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows L2-normalised then minus their mean, the mean) — float32."""
    x = np.asarray(emb, dtype=np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    mean = x.mean(axis=0)
    return (x - mean).astype(np.float32), mean.astype(np.float32)

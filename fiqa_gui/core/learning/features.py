"""Features every scored project has, one row per image: the embedding itself, the scores of a
run (SDD, CR and its parts, quality), the embedding-side cue (`lowinfo`), anchored margins
(`strength`, `certainty`, `anchor_similarity`), the pixel cues, and each of the scalar features as
a percentile inside the image's cluster (curators grade an image partly against its cluster).

Missing values (no pixel cues, singletons) are filled with the column's median and flagged by an
indicator column. `FeatureRecipe` holds the names, fill values and scaling, so a trained model can
be applied to another project's features (and is exported with it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from fiqa_gui.core.labels.quality_cues import percentile_rank
from fiqa_gui.core.labels.ranking import cluster_members

RUN_FEATURES = ("sdd", "sdd_signed", "cr", "ccs", "nnccs", "quality", "iq", "lowinfo",
                "strength", "certainty", "anchor_similarity", "luminance_mean",
                "luminance_variance", "under_exposure", "over_exposure", "dynamic_range",
                "sharpness", "noise", "blockiness", "resolution")
IN_CLUSTER = ("sdd", "cr", "quality", "iq", "strength")


@dataclass
class FeatureRecipe:
    """How raw features become the model's input: names in order, fill values, scaling."""

    names: list[str]
    fill: list[float]
    mean: list[float]
    scale: list[float]
    embedding_dim: int

    def to_dict(self) -> dict:
        return asdict(self)

    def indicator_columns(self) -> list[int]:
        """For each `…_missing` indicator feature, the raw column it flags."""
        return [self.names.index(n[:-len("_missing")]) for n in self.names[len(self.fill):]]


def _in_cluster_percentile(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    out = np.full(len(values), np.nan)
    for members in cluster_members(labels):
        v = values[members]
        ok = np.isfinite(v)
        if ok.sum() >= 2:
            out[members[ok]] = percentile_rank(v[ok])
    return out


def scalar_features(labels: np.ndarray, scores: dict) -> tuple[np.ndarray, list[str]]:
    """(N × S float64 with NaN where missing, names): the run's columns and their in-cluster
    percentiles — cheap for every image at once."""
    cols, names = [], []
    for name in RUN_FEATURES:
        if name in scores:
            cols.append(np.asarray(scores[name], dtype=float))
            names.append(name)
    for name in IN_CLUSTER:
        if name in scores:
            cols.append(_in_cluster_percentile(np.asarray(scores[name], dtype=float), labels))
            names.append(f"{name}_in_cluster")
    x = np.stack(cols, axis=1) if cols else np.zeros((len(labels), 0))
    return x, names


def raw_features(scalars: np.ndarray, embeddings: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The raw feature rows `rows`: scalar features, then the unit-length embedding."""
    emb = np.asarray(embeddings[rows], dtype=np.float64)
    emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    return np.concatenate([scalars[rows], emb], axis=1)


def feature_names(scalar_names: list[str], embedding_dim: int) -> list[str]:
    return scalar_names + [f"embedding_{k}" for k in range(embedding_dim)]


def fit_recipe(x: np.ndarray, names: list[str], embedding_dim: int) -> FeatureRecipe:
    """Fill values (medians) and scaling (mean, std after filling) from all images; columns with
    missing values get an indicator column, appended to the names."""
    fill, extra = [], []
    for j in range(x.shape[1]):
        ok = np.isfinite(x[:, j])
        fill.append(float(np.median(x[ok, j])) if ok.any() else 0.0)
        if not ok.all() and ok.any():
            extra.append(names[j])
    filled = _fill(x, fill, [names.index(e) for e in extra])
    mean = filled.mean(axis=0)
    scale = filled.std(axis=0)
    scale[scale < 1e-12] = 1.0
    return FeatureRecipe(names=names + [f"{e}_missing" for e in extra], fill=fill,
                         mean=mean.tolist(), scale=scale.tolist(), embedding_dim=embedding_dim)


def _fill(x: np.ndarray, fill: list[float], indicator_cols: list[int]) -> np.ndarray:
    missing = ~np.isfinite(x)
    filled = np.where(missing, np.asarray(fill)[None, :], x)
    return np.concatenate([filled, missing[:, indicator_cols].astype(float)], axis=1)


def apply_recipe(x: np.ndarray, recipe: FeatureRecipe) -> np.ndarray:
    """The model's input for raw features `x` (same columns as when the recipe was fitted)."""
    filled = _fill(x, recipe.fill, recipe.indicator_columns())
    return (filled - np.asarray(recipe.mean)) / np.asarray(recipe.scale)

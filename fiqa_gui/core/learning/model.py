"""A small, fast quality model: an ensemble of ridge regressions on cluster-bootstrap resamples.

Ridge is closed-form (no training loop, no learning-rate to tune, the same result for the same
data and seed), copes with a few hundred labels over ~550 features, and trains in well under a
second. The ensemble's spread is the uncertainty the review queue uses. Validation is always by
cluster: a fold holds whole identities, so the figure says how well the model labels identities
nobody has labelled. The regularisation strength is picked by an inner grouped cross-validation
inside each outer fold (nested), so the reported error is not tuned on itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

ALPHAS = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)


def group_folds(groups: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold index per sample; every group (cluster) in exactly one fold, folds seeded."""
    uniq = np.unique(groups)
    order = np.random.default_rng(seed).permutation(len(uniq))
    fold_of = np.empty(len(uniq), dtype=np.int64)
    fold_of[order] = np.arange(len(uniq)) % k
    return fold_of[np.searchsorted(uniq, groups)]


def ridge_path(z: np.ndarray, y: np.ndarray, w: np.ndarray, alphas) -> list[tuple[np.ndarray,
                                                                                 float]]:
    """Weighted ridge with an unpenalised intercept for every alpha: [(coefficients,
    intercept)]. One eigendecomposition of the F×F Gram matrix serves every alpha."""
    sw = w / w.sum()
    zbar = sw @ z
    ybar = float(sw @ y)
    zc = z - zbar
    yc = y - ybar
    out = []
    if len(z) >= z.shape[1]:  # primal: F×F
        zw = zc * w[:, None]
        evals, evecs = np.linalg.eigh(zw.T @ zc)
        proj = evecs.T @ (zw.T @ yc)
        for alpha in alphas:
            coef = evecs @ (proj / (np.maximum(evals, 0.0) + alpha))
            out.append((coef, ybar - float(zbar @ coef)))
        return out
    # dual (fewer labels than features): N×N, β = Zᵀ√W U (Λ + α)⁻¹ Uᵀ √W y
    r = np.sqrt(w)
    zr = zc * r[:, None]
    evals, evecs = np.linalg.eigh(zr @ zr.T)
    proj = evecs.T @ (r * yc)
    for alpha in alphas:
        coef = zr.T @ (evecs @ (proj / (np.maximum(evals, 0.0) + alpha)))
        out.append((coef, ybar - float(zbar @ coef)))
    return out


def fit_ridge(z: np.ndarray, y: np.ndarray, w: np.ndarray, alpha: float
              ) -> tuple[np.ndarray, float]:
    """Weighted ridge with an unpenalised intercept: (coefficients, intercept)."""
    return ridge_path(z, y, w, (alpha,))[0]


def _mae(pred: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    return float(np.sum(w * np.abs(pred - y)) / np.sum(w))


def choose_alpha(z, y, w, groups, folds: int, seed: int) -> float:
    """The ridge strength with the lowest grouped cross-validated weighted MAE."""
    k = min(folds, len(np.unique(groups)))
    if k < 2:
        return 10.0
    fold = group_folds(groups, k, seed)
    errors = np.zeros(len(ALPHAS))
    for f in range(k):
        tr, te = fold != f, fold == f
        for a, (coef, b) in enumerate(ridge_path(z[tr], y[tr], w[tr], ALPHAS)):
            errors[a] += _mae(z[te] @ coef + b, y[te], w[te]) * w[te].sum()
    return float(ALPHAS[int(np.argmin(errors))])


@dataclass
class Validation:
    """Out-of-fold figures, folds by cluster."""

    mae: float           # weighted mean absolute error on the 0–100 scale
    spearman: float      # rank correlation of out-of-fold predictions with the labels
    folds: int
    clusters: int

    def to_dict(self) -> dict:
        return {"mae": self.mae, "spearman": self.spearman, "folds": self.folds,
                "clusters": self.clusters, "split": "by cluster (grouped k-fold, nested alpha)"}


def validate(z, y, w, groups, folds: int, seed: int) -> Validation:
    from scipy.stats import spearmanr

    k = min(folds, len(np.unique(groups)))
    fold = group_folds(groups, k, seed)
    pred = np.empty(len(y))
    for f in range(k):
        tr, te = fold != f, fold == f
        alpha = choose_alpha(z[tr], y[tr], w[tr], groups[tr], folds, seed + 1)
        coef, b = fit_ridge(z[tr], y[tr], w[tr], alpha)
        pred[te] = np.clip(z[te] @ coef + b, 0, 100)
    rho = spearmanr(pred, y)[0] if len(np.unique(y)) > 1 else float("nan")
    return Validation(mae=_mae(pred, y, w), spearman=float(rho), folds=k,
                      clusters=int(len(np.unique(groups))))


@dataclass
class RidgeEnsemble:
    """`members` ridge fits on cluster-bootstrap resamples; predicts mean and spread."""

    coef: np.ndarray       # (M, F)
    intercept: np.ndarray  # (M,)
    alpha: float

    @classmethod
    def fit(cls, z, y, w, groups, *, alpha: float, members: int, seed: int) -> RidgeEnsemble:
        uniq = np.unique(groups)
        where = {g: np.flatnonzero(groups == g) for g in uniq}
        coefs, bs = [], []
        for m in range(members):
            rng = np.random.default_rng([seed, m])
            picked = rng.choice(uniq, len(uniq), replace=True) if m else uniq  # member 0: all
            rows = np.concatenate([where[g] for g in picked])
            coef, b = fit_ridge(z[rows], y[rows], w[rows], alpha)
            coefs.append(coef)
            bs.append(b)
        return cls(np.stack(coefs), np.asarray(bs), alpha)

    def predict(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mean prediction clipped to 0–100, standard deviation over the members)."""
        preds = z @ self.coef.T + self.intercept
        return np.clip(preds.mean(axis=1), 0, 100), preds.std(axis=1)


class LearnedQualityModule(torch.nn.Module):
    """The trained model as TorchScript: raw features (N × F, NaN where missing) → (learned
    quality 0–100, uncertainty). Filling, indicators and scaling are inside, so a pipeline only
    has to compute the raw features of `FeatureRecipe.names` (see the recipe JSON)."""

    def __init__(self, fill, indicator, mean, scale, coef, intercept):
        super().__init__()
        self.register_buffer("fill", torch.tensor(fill, dtype=torch.float64))
        self.register_buffer("indicator", torch.tensor(indicator, dtype=torch.int64))
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float64))
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float64))
        self.register_buffer("coef", torch.tensor(coef, dtype=torch.float64))
        self.register_buffer("intercept", torch.tensor(intercept, dtype=torch.float64))

    def forward(self, raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw = raw.to(torch.float64)
        missing = ~torch.isfinite(raw)
        filled = torch.where(missing, self.fill.expand_as(raw), raw)
        ind = missing.index_select(1, self.indicator).to(torch.float64)
        z = (torch.cat([filled, ind], dim=1) - self.mean) / self.scale
        preds = z @ self.coef.T + self.intercept
        return preds.mean(dim=1).clamp(0.0, 100.0), preds.std(dim=1, unbiased=False)

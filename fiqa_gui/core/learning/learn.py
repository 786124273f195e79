"""One turn of the flywheel: train on the curator's evidence, label every image, store a run.

The model learns what a curator grades — how good the image is as an example of its identity —
and `learned` keeps the identity side the way `quality` does (`labels/anchored.py`): where the
run has the anchored identity certainty g, `learned = prediction × g`, so an image nearer another
identity's centre than to its own anchors scores low whatever it looks like (curators' tiers are
given to right-identity images; wrong-identity ones are left out of training).

The run (kind `learn`) carries the base run's scores and flags unchanged plus `learned` (0–100),
`learned_strength` (the model's prediction before the certainty factor) and
`learned_uncertainty` (the ensemble's spread), so the window can rank by `learned` and exports
can use it. Its parameters record what the turn used and achieved: labels
by source, labelled clusters, the ridge strength, and the validation by cluster.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fiqa_gui.core.errors import UserInputError
from fiqa_gui.core.learning.evidence import curator_evidence
from fiqa_gui.core.learning.features import (
    FeatureRecipe,
    apply_recipe,
    feature_names,
    fit_recipe,
    raw_features,
    scalar_features,
)
from fiqa_gui.core.learning.model import LearnedQualityModule, RidgeEnsemble, choose_alpha, validate
from fiqa_gui.core.progress import CancelToken, ProgressCallback, no_progress

RUN_KIND = "learn"
BASE_KINDS = ("score", "rescore")
MIN_LABELS = 10
MIN_CLUSTERS = 2
RECIPE_SAMPLE = 200_000  # images the fill values and scaling are estimated on
CHUNK = 65_536
ERC_SOURCES = ("quality", "sdd", "cr")
ERC_FMRS = (1e-3,)


@dataclass
class LearnResult:
    run_id: int
    base_run_id: int
    learned: np.ndarray
    uncertainty: np.ndarray
    summary: dict
    model: RidgeEnsemble = field(repr=False)
    recipe: FeatureRecipe = field(repr=False)


def base_run(project, run_id: int | None = None):
    """The scoring run a turn learns from: `run_id`, else the newest score or re-score run."""
    runs = project.runs()
    if run_id is not None:
        run = next((r for r in runs if r.id == run_id), None)
        if run is None or run.kind not in (*BASE_KINDS, RUN_KIND):
            raise UserInputError(f"run {run_id} is not a scoring run of this project",
                                 file=project.folder, fix="pick a run listed by 'fiqa-gui info'.")
        return run
    scored = [r for r in runs if r.kind in BASE_KINDS]
    if not scored:
        raise UserInputError("the project has no scoring run to learn from",
                             file=project.folder, fix="score it first: fiqa-gui score PROJECT.")
    return scored[-1]


def _check_evidence(project, ev, labels: np.ndarray) -> None:
    clusters = len(np.unique(labels[ev.image_ids])) if len(ev) else 0
    if len(ev) < MIN_LABELS or clusters < MIN_CLUSTERS:
        raise UserInputError(
            f"too few curator labels to learn from ({len(ev)} image(s) in {clusters} "
            f"cluster(s); at least {MIN_LABELS} in {MIN_CLUSTERS} clusters are needed)",
            file=project.folder,
            fix="set tiers or corrected scores, approve or reject seeds, or import labels "
                "(fiqa-gui import-labels PROJECT CSV), then learn again.")


def learn_project(project, *, run_id: int | None = None, seed: int = 0, members: int = 5,
                  folds: int = 5, progress: ProgressCallback = no_progress,
                  cancel: CancelToken | None = None) -> LearnResult:
    """Train on the curator's evidence over run `run_id`'s scores; store and return the turn."""
    from fiqa_gui.core.labels.project_scoring import project_labels

    t0 = time.perf_counter()
    base = base_run(project, run_id)
    scores = project.scores(base.id)
    emb = project.embeddings()
    if emb is None:
        raise UserInputError("the project has no embeddings", file=project.folder,
                             fix="create it with --embeddings or --model.")
    labels = project_labels(project).labels
    ds = project.dataset()
    n = len(labels)
    ev = curator_evidence(project, ds.unreadable)
    _check_evidence(project, ev, labels)
    progress(0, 4, "learning: features")
    scalars, scalar_names = scalar_features(labels, scores)
    names = feature_names(scalar_names, emb.shape[1])
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, RECIPE_SAMPLE, replace=False)) if n > RECIPE_SAMPLE \
        else np.arange(n)
    recipe = fit_recipe(raw_features(scalars, emb, sample), names, emb.shape[1])
    z = apply_recipe(raw_features(scalars, emb, ev.image_ids), recipe)
    groups = labels[ev.image_ids]
    if cancel is not None:
        cancel.check()
    progress(1, 4, "learning: validating by cluster")
    val = validate(z, ev.values, ev.weights, groups, folds, seed)
    alpha = choose_alpha(z, ev.values, ev.weights, groups, folds, seed + 1)
    model = RidgeEnsemble.fit(z, ev.values, ev.weights, groups, alpha=alpha, members=members,
                              seed=seed)
    progress(2, 4, "learning: labelling every image")
    learned = np.empty(n)
    spread = np.empty(n)
    for a in range(0, n, CHUNK):
        if cancel is not None:
            cancel.check()
        rows = np.arange(a, min(n, a + CHUNK))
        learned[rows], spread[rows] = model.predict(apply_recipe(raw_features(scalars, emb, rows),
                                                                 recipe))
    predicted = learned.copy()
    if "certainty" in scores:
        g = np.asarray(scores["certainty"], dtype=float)
        learned = np.where(np.isfinite(g), predicted * g, predicted)
    progress(3, 4, "learning: error-versus-reject on the unlabelled clusters")
    erc = held_out_erc(emb, labels, groups, {"learned": learned, **{
        c: np.asarray(scores[c], dtype=float) for c in ERC_SOURCES if c in scores}}, seed=seed,
        cancel=cancel)
    summary = {"labels": len(ev), "by_source": ev.counts(),
               "clusters_labelled": int(len(np.unique(groups))), "clusters": int(labels.max() + 1),
               "alpha": alpha, "members": members, "features": len(recipe.names),
               "validation": val.to_dict(), "erc": erc, "seed": seed}
    run_id = _store(project, base, scores, {"learned": learned, "learned_strength": predicted,
                                            "learned_uncertainty": spread},
                    summary, time.perf_counter() - t0)
    progress(4, 4, "learning: done")
    return LearnResult(run_id, base.id, learned, spread, summary, model, recipe)


def held_out_erc(embeddings, labels: np.ndarray, labelled_clusters: np.ndarray, sources: dict,
                 *, seed: int = 0, cancel: CancelToken | None = None) -> dict:
    """ERC-AUC (FMR 1e-3, lower is better) of each source over the clusters without a single
    label — what the turn is for; the labelled ones would flatter `learned`. All clusters are
    used (and the record says so) when fewer than two are unlabelled."""
    from fiqa_gui.core.evaluation.evaluate import evaluate_arrays

    held = ~np.isin(labels, np.unique(labelled_clusters))
    scope = "unlabelled clusters"
    if len(np.unique(labels[held])) < 2:
        held, scope = np.ones(len(labels), dtype=bool), "all clusters (fewer than 2 unlabelled)"
    rows = np.flatnonzero(held)
    try:
        res = evaluate_arrays(np.asarray(embeddings[rows]), labels[rows],
                              {k: v[rows] for k, v in sources.items()}, fmrs=ERC_FMRS,
                              seed=seed, cancel=cancel)
    except UserInputError as err:
        return {"scope": scope, "error": str(err)}
    return {"scope": scope, "images": int(len(rows)), "fmr": ERC_FMRS[0],
            "genuine_pairs": res.genuine_pairs, "impostor_pairs": res.impostor_pairs,
            "auc": {c.source: c.auc for c in res.curves}}


def _store(project, base, scores: dict, learned: dict, summary: dict, seconds: float) -> int:
    from fiqa_gui.core.store.project import SCORE_COLUMNS

    columns = {c: np.asarray(scores[c], dtype=float) for c in SCORE_COLUMNS if c in scores}
    extra = {k: np.asarray(v, dtype=float) for k, v in scores.items()
             if k not in columns and k != "flags" and k not in learned}
    extra.update(learned)
    params = dict(base.params)
    params["base_run"] = base.id
    params["learn"] = summary
    details = [(d["flag"], d["cluster_id"], d.get("image_id"), d["explanation"],
                d.get("numbers") or {}) for d in project.flag_details(base.id)]
    return project.add_run(RUN_KIND, params, columns, [list(f) for f in scores["flags"]],
                           device="cpu", seed=summary["seed"], duration_s=seconds, extra=extra,
                           flag_details=details)


MODEL_FILES = ("learned_quality.pt", "learned_quality.json")


def check_model_folder(folder: str | Path, *, force: bool = False, protected=()) -> list[Path]:
    """The two files `export_model` writes into `folder`, checked against the output rule first
    (so a bad folder is refused before any training)."""
    from fiqa_gui.core.atomic_output import guard_output

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserInputError("the model folder is an existing file", file=folder,
                             fix="give --export-model a folder (new or existing).")
    return [guard_output(folder / name, force=force, protected=protected)
            for name in MODEL_FILES]


def export_model(result: LearnResult, folder: str | Path, *, force: bool = False,
                 protected=()) -> list[Path]:
    """Write the model as TorchScript (`learned_quality.pt`) and its feature recipe
    (`learned_quality.json`) into `folder`, atomically; never over a `protected` path."""
    import torch

    from fiqa_gui.core.atomic_output import atomic_file

    pt, js = check_model_folder(folder, force=force, protected=protected)
    pt.parent.mkdir(parents=True, exist_ok=True)
    r = result.recipe
    module = LearnedQualityModule(r.fill, r.indicator_columns(), r.mean, r.scale, result.model.coef,
                                  result.model.intercept)
    scripted = torch.jit.script(module)
    with atomic_file(pt, force=force, binary=True, protected=protected) as f:
        torch.jit.save(scripted, f)
    recipe = {"inputs": r.names[:len(r.fill)], "recipe": r.to_dict(), "summary": result.summary,
              "how": "forward(raw) with raw an N×F float tensor of the `inputs` in order (NaN "
                     "where missing): the run's columns, their in-cluster percentiles (0–1) and "
                     "the L2-normalised embedding; returns (learned 0–100, uncertainty)."}
    with atomic_file(js, force=force, protected=protected) as f:
        json.dump(recipe, f, indent=1)
    return [pt, js]
